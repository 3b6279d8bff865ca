"""Shared fixtures: a tiny randomly initialised encoder so unit tests never touch the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

VI_SENTENCES = [
    "Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.",
    "Cấp ủy, ủy ban kiểm tra các cấp kiểm tra chấp hành 1.263 tổ chức đảng, 4.797 đảng viên.",
    "Kết quả giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo.",
    "Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.",
    "Việc quán triệt, học tập các nghị quyết của Đảng được chú trọng đổi mới.",
    "Chỉ số năng lực cạnh tranh cấp tỉnh (PCI) năm 2022 xếp thứ 43/63.",
    "passage: query: Đà Nẵng Hà Nội TP. Hồ Chí Minh sắp xếp tinh gọn bộ máy tinh giản biên chế",
]


def make_tiny_encoder(path: Path) -> Path:
    """Write a 2-layer, 32-wide BERT with a Unigram tokenizer trained on a few Vietnamese sentences."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
    from tokenizers.models import Unigram
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(VI_SENTENCES * 3, trainer=trainer)
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


@pytest.fixture(scope="session")
def tiny_encoder_path(tmp_path_factory) -> Path:
    """Folder of a tiny random encoder, usable wherever an encoder name or path is accepted."""
    import torch

    torch.manual_seed(0)
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny_encoder"))
