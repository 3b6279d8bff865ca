"""Faster CPU inference for the tagger.

Two ways to cut the cost of the encoder's matrix multiplications (sentences are already length-sorted
inside `SentenceTagger.predict_proba`, so padding is minimal):

- `int8`: dynamic int8 quantisation of the encoder's Linear layers but the FFN outputs
  (`torch.ao.quantization.quantize_dynamic`, one scale per output channel); works on any x86/ARM CPU.
- `bf16`: bfloat16 weights and activations; fast only on CPUs with native bf16 units (Intel AMX /
  AVX512-BF16, e.g. Sapphire Rapids), emulated and slow elsewhere.

`dangtopic benchmark` prints the speed of each and the micro-F1 it costs on the held-out hand-labelled
sentences, so the choice is made on numbers.
"""

from __future__ import annotations

import warnings

from dangtopic.models.cpu import native_bf16

FAST_METHODS = ("int8", "bf16")


def _check_cpu(tagger) -> None:
    if str(getattr(tagger, "device", "cpu")) != "cpu":
        raise ValueError("the fast CPU paths need a tagger on CPU; load it with device='cpu'")


def _merge_lora(tagger) -> None:
    if hasattr(tagger.encoder.model, "merge_and_unload"):
        # An unmerged LoRA model (fresh from `create`): fold the adapter into the base weights first.
        tagger.encoder.model = tagger.encoder.model.merge_and_unload()


def quantize_tagger(tagger):
    """Replace the Linear layers of the tagger's encoder by dynamically quantised int8 ones, in place."""
    import torch

    _check_cpu(tagger)
    if tagger.fast_method:
        return tagger
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, which we do not depend on.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        _merge_lora(tagger)
        tagger.eval()
        # One weight scale per output channel, and the FFN output projections left in float: their
        # inputs (after GELU) hold outliers that one int8 scale per input tensor cannot cover. Held-out
        # micro-F1 of the shipped tagger (`dangtopic benchmark`): fp32 0.820; this 0.811 at 1.2x fp32
        # speed; one scale per matrix everywhere (the earlier path) 0.748. The head and the article
        # contextualiser stay float: they cost nothing next to the encoder, and torch's transformer
        # layers read Linear weights as tensors.
        plan = {
            name: per_channel_dynamic_qconfig
            for name, m in tagger.encoder.named_modules()
            if isinstance(m, torch.nn.Linear) and not _ffn_output(name)
        }
        quantize_dynamic(tagger.encoder, plan, dtype=torch.qint8, inplace=True)
    tagger.fast_method = "int8"
    return tagger


def _ffn_output(name: str) -> bool:
    return name.endswith("output.dense") and "attention" not in name


def bf16_tagger(tagger):
    """Cast the whole tagger to bfloat16, in place (probabilities still come back float32)."""
    import torch

    _check_cpu(tagger)
    if tagger.fast_method:
        return tagger
    if not native_bf16():
        warnings.warn(
            "this CPU has no native bf16 units: the bf16 path will be slower than fp32", stacklevel=2
        )
    _merge_lora(tagger)
    tagger.to(torch.bfloat16).eval()
    tagger.fast_method = "bf16"
    return tagger


def make_fast(tagger, method: str):
    """Apply a fast path to a loaded tagger in place: `int8` or `bf16`. Choosing one for the machine,
    the distilled student included, is `Pipeline.from_pretrained(fast=...)`'s job."""
    if method not in FAST_METHODS:
        raise ValueError(
            f"fast method must be one of {FAST_METHODS}, got {method!r}; to let the machine choose "
            "(the distilled student included), load with Pipeline.from_pretrained(fast='auto')"
        )
    return bf16_tagger(tagger) if method == "bf16" else quantize_tagger(tagger)


def bf16_summarizer(summarizer):
    """Cast the summariser's (frozen) sentence encoder to bfloat16, in place; its scorer stays float32.

    The summariser returns float32 embeddings to its scorer whatever the encoder's dtype. On CPUs with
    native bf16 units the shipped summariser already loads this way (`SummarizerConfig.dtype: auto`).
    """
    if summarizer.fast_method:
        return summarizer
    summarizer.set_dtype("bfloat16")
    summarizer.fast_method = "bf16"
    return summarizer
