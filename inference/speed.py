"""Faster CPU inference for the tagger.

Two ways to cut the cost of the encoder's matrix multiplications (sentences are already length-sorted
inside `SentenceTagger.predict_proba`, so padding is minimal):

- `int8`: dynamic int8 quantisation of every Linear layer (`torch.ao.quantization.quantize_dynamic`);
  works on any x86/ARM CPU.
- `bf16`: bfloat16 weights and activations; fast only on CPUs with native bf16 units (Intel AMX /
  AVX512-BF16, e.g. Sapphire Rapids), emulated and slow elsewhere.

`dangtopic benchmark` prints the speed of each and the micro-F1 it costs on the held-out hand-labelled
sentences, so the choice is made on numbers.
"""

from __future__ import annotations

import warnings

from dangtopic.models.cpu import native_bf16

FAST_METHODS = ("auto", "int8", "bf16")


def _check_cpu(tagger) -> None:
    if str(getattr(tagger, "device", "cpu")) != "cpu":
        raise ValueError("the fast CPU paths need a tagger on CPU; load it with device='cpu'")


def _merge_lora(tagger) -> None:
    if hasattr(tagger.encoder.model, "merge_and_unload"):
        # An unmerged LoRA model (fresh from `create`): fold the adapter into the base weights first.
        tagger.encoder.model = tagger.encoder.model.merge_and_unload()


def quantize_tagger(tagger):
    """Replace the Linear layers of the tagger's encoder and head by dynamically quantised int8 ones, in place."""
    import torch

    _check_cpu(tagger)
    if tagger.fast_method:
        return tagger
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, which we do not depend on.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import quantize_dynamic

        _merge_lora(tagger)
        tagger.eval()
        # encoder and head; the article contextualiser stays float (it is tiny, and torch's transformer
        # layers read their Linear weights as tensors, which quantised Linears do not have)
        for part in (tagger.encoder, tagger.head):
            quantize_dynamic(part, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    tagger.fast_method = "int8"
    return tagger


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


def resolve_method(method: str = "auto") -> str:
    """`auto` → `bf16` on CPUs with native bf16 units, else `int8`."""
    if method not in FAST_METHODS:
        raise ValueError(f"fast method must be one of {FAST_METHODS}, got {method!r}")
    if method == "auto":
        return "bf16" if native_bf16() else "int8"
    return method


def make_fast(tagger, method: str = "auto"):
    """Apply a fast path to a tagger in place: `int8`, `bf16`, or `auto` (see `resolve_method`)."""
    method = resolve_method(method)
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
