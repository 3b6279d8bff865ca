"""Tiny randomly initialised models for unit tests and soak benchmarks: the real models' code path (same
classes, save/load format and tokenizer API) at a fraction of the cost, so memory and plumbing can be
measured over 100k articles. Their labels and summaries are meaningless."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# The tokenizer is trained on these, so Vietnamese text maps to real pieces instead of <unk>.
TINY_SENTENCES = [
    "Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.",
    "Cấp ủy, ủy ban kiểm tra các cấp kiểm tra chấp hành 1.263 tổ chức đảng, 4.797 đảng viên.",
    "Kết quả giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo.",
    "Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.",
    "Việc quán triệt, học tập các nghị quyết của Đảng được chú trọng đổi mới.",
    "Chỉ số năng lực cạnh tranh cấp tỉnh (PCI) năm 2022 xếp thứ 43/63.",
    "passage: query: Đà Nẵng Hà Nội TP. Hồ Chí Minh sắp xếp tinh gọn bộ máy tinh giản biên chế",
]


def make_tiny_encoder(path: str | Path, texts: Iterable[str] | None = None, vocab_size: int = 300) -> Path:
    """Write a 2-layer, 32-wide BERT with a Unigram tokenizer trained on a few Vietnamese sentences, plus
    `texts`: with real articles and a few thousand pieces (`vocab_size`), words stay whole about as often
    as with a real tokenizer."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
    from tokenizers.models import Unigram
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    path = Path(path)
    tok = Tokenizer(Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(TINY_SENTENCES * 3 + list(texts or []), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=128,
    )
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=1,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def make_tiny_tagger(encoder: str | Path, head_std: float = 1.0, seed: int = 0):
    """A SentenceTagger on `encoder` with a random but confident head, so labels vary across sentences."""
    import torch

    from dangtopic.models.tagger import SentenceTagger

    torch.manual_seed(seed)
    tagger = SentenceTagger.create(encoder=str(encoder))
    with torch.no_grad():
        for name, p in tagger.encoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
        tagger.head[1].weight.normal_(0, head_std)
        if tagger.context is not None:
            # a trained contextualiser is no identity: give its zero-initialised parts random weights
            tagger.context.position.weight.normal_(0, 0.1)
            for block in tagger.context.layers.layers:
                block.self_attn.out_proj.weight.normal_(0, 0.05)
                block.linear2.weight.normal_(0, 0.05)
    return tagger.eval()


def make_tiny_summarizer(encoder: str | Path, seed: int = 0):
    """An untrained ExtractiveSummarizer on `encoder`."""
    import torch

    from dangtopic.models.summarizer import ExtractiveSummarizer

    torch.manual_seed(seed)
    return ExtractiveSummarizer.create(encoder=str(encoder))


def make_tiny_model_dir(
    root: str | Path, seed: int = 0, texts: Iterable[str] | None = None, vocab_size: int = 300
) -> Path:
    """`root/encoder`, `root/tagger`, `root/summarizer`: a folder `Pipeline.from_pretrained(root)` loads.
    `texts`/`vocab_size` train the tokenizer (`make_tiny_encoder`); the saved tagger and summariser refer to
    `root/encoder` by absolute path, so keep the folder in place."""
    import torch

    root = Path(root)
    torch.manual_seed(seed)
    encoder = make_tiny_encoder(root / "encoder", texts=texts, vocab_size=vocab_size)
    make_tiny_tagger(encoder, seed=seed).save_pretrained(root / "tagger")
    make_tiny_summarizer(encoder, seed=seed).save_pretrained(root / "summarizer")
    return root
