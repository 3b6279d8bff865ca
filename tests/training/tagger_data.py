"""Tiny hand-labelled articles for the tagger trainer tests."""

from __future__ import annotations

import json
from pathlib import Path

SENTS = [
    ("Toàn tỉnh đã kết nạp mới 3.787 đảng viên.", ["membership"]),
    ("Ủy ban kiểm tra thi hành kỷ luật cảnh cáo 5 đảng viên.", ["inspection"]),
    ("Giảm 138 đầu mối cấp phòng và 1.845 biên chế.", ["restructuring"]),
    ("Mở lớp bồi dưỡng nghiệp vụ công tác Đảng cho 590 cán bộ.", ["training"]),
    ("Chỉ số PCI năm 2022 xếp thứ 43/63.", []),
    ("Việc quán triệt nghị quyết được chú trọng.", []),
]


def write_labelled_articles(folder: Path) -> tuple[Path, Path]:
    """Four articles of SENTS (two train, one dev, one test): the labels file and the split file."""
    labels = folder / "labels.jsonl"
    split = {"train": [], "dev": [], "test": []}
    with labels.open("w", encoding="utf-8") as f:
        for a, part in enumerate(["train", "train", "dev", "test"]):
            aid = f"tiny/{a:06d}"  # not a VNDS id: no corpus context is looked up
            split[part].append(aid)
            for k, (text, labs) in enumerate(SENTS):
                f.write(
                    json.dumps({"id": f"{aid}#{k}", "text": text, "labels": labs}, ensure_ascii=False) + "\n"
                )
    split_file = folder / "split.json"
    split_file.write_text(json.dumps(split))
    return labels, split_file
