"""The shipped default tagger: loads offline from the package and tags the guidelines' worked examples."""

import json

import pytest

from dangtopic.models.tagger import DEFAULT_TAGGER_DIR, SentenceTagger

pytestmark = pytest.mark.slow

# Unambiguous single-label rows of the guidelines' worked-examples table.
WORKED = [
    ("Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.", ["membership"]),
    (
        "Cấp ủy, ủy ban kiểm tra các cấp kiểm tra chấp hành 1.263 tổ chức đảng, 4.797 đảng viên.",
        ["inspection"],
    ),
    ("Kết quả giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo.", ["restructuring"]),
    ("Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.", ["training"]),
    ("Chỉ số năng lực cạnh tranh cấp tỉnh (PCI) năm 2022 xếp thứ 43/63.", []),
]


def test_default_folder_describes_itself():
    meta = json.loads((DEFAULT_TAGGER_DIR / "config.json").read_text())
    assert meta["kind"] == "sentence-tagger"
    assert meta["labels"] == ["membership", "inspection", "restructuring", "training"]
    assert set(meta["thresholds"]) == set(meta["labels"])
    assert meta["base_fingerprint"].startswith("sha256:")
    assert "evaluation" in meta["metrics"]
    assert "## Evaluation" in (DEFAULT_TAGGER_DIR / "README.md").read_text()


# Known error of the shipped tagger v2 (strict: this fails as soon as a model gets it right, so the
# marker is removed with the fix): it adds `inspection` to this training sentence.
KNOWN_WRONG = {"Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng."}


@pytest.mark.parametrize(
    "text,labels",
    [
        pytest.param(
            t,
            labs,
            marks=pytest.mark.xfail(
                t in KNOWN_WRONG, strict=True, reason="known tagger v2 error, model card"
            ),
        )
        for t, labs in WORKED
    ],
)
def test_default_tagger_tags_worked_examples(default_tagger, text, labels):
    assert default_tagger.predict(text).labels == labels


@pytest.fixture(scope="module")
def default_tagger():
    return SentenceTagger.from_pretrained()
