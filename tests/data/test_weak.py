"""Labelling functions, the keyword baseline and the label model."""

from __future__ import annotations

import numpy as np
import pytest

from dangtopic import LABELS
from dangtopic.data.weak import (
    ABSTAIN,
    DEFAULT_LFS,
    NEGATIVE,
    POSITIVE,
    LabelingFunction,
    LabelModel,
    apply_lfs,
    fold,
    keyword_labels,
    lf_report,
)

LF = {lf.name: lf for lf in DEFAULT_LFS}


def fired(text: str, polarity: int | None = None) -> set[str]:
    f = fold(text)
    return {lf.name for lf in DEFAULT_LFS if lf.vote_folded(f) != ABSTAIN and polarity in (None, lf.polarity)}


def positive_labels(text: str) -> set[str]:
    """Labels with at least one positive LF firing and no negative LF of the same label."""
    f = fold(text)
    votes = [(lf.label, lf.vote_folded(f)) for lf in DEFAULT_LFS]
    pos = {lab for lab, v in votes if v == POSITIVE}
    neg = {lab for lab, v in votes if v == NEGATIVE}
    return pos - neg


# The guideline's worked examples: (sentence, gold labels, LFs that must fire, keyword labels where a
# plain keyword exists).
WORKED = [
    (
        "Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.",
        {"membership"},
        {"mem_admit", "mem_count"},
        set(),
    ),
    (
        "Cấp ủy, ủy ban kiểm tra các cấp kiểm tra chấp hành 1.263 tổ chức đảng, 4.797 đảng viên.",
        {"inspection"},
        {"insp_body", "insp_work", "mem_neg_oversight_count"},
        {"inspection"},
    ),
    (
        "Kết quả giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo.",
        {"restructuring"},
        {"restr_staff"},
        {"restructuring"},
    ),
    (
        "Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.",
        {"training"},
        {"train_foster"},
        {"training"},
    ),
    (
        "Kế hoạch về quy hoạch, đào tạo, bồi dưỡng, luân chuyển cán bộ lãnh đạo là nữ, trẻ, người DTTS.",
        {"training"},
        {"train_foster", "train_educate_cadre", "restr_neg_appointment"},
        {"training"},
    ),
    (
        "Công tác đánh giá phân loại tổ chức cơ sở đảng và đảng viên ngày càng đi vào chiều sâu.",
        {"membership"},
        {"mem_rating"},
        set(),
    ),
    (
        "Việc quán triệt, học tập các nghị quyết của Đảng được chú trọng đổi mới.",
        set(),
        {"train_neg_study_resolution"},
        set(),
    ),
    (
        "Ủy viên cấp ủy được phân công dự sinh hoạt chi bộ, kiểm tra, giám sát việc thực hiện nền nếp sinh hoạt.",
        {"inspection"},
        {"insp_work", "insp_supervision"},
        {"inspection"},
    ),
    (
        "Thực hiện chuyển giao 20 chi, đảng bộ cơ sở và 421 đảng viên các chi bộ ngân hàng thương mại.",
        {"restructuring", "membership"},
        {"restr_merge", "mem_manage"},
        set(),
    ),
    (
        "Tỷ lệ cán bộ, đảng viên tham gia học tập nghị quyết đạt trên 95%.",
        set(),
        {"train_neg_study_resolution"},
        set(),
    ),
    ("Chỉ số năng lực cạnh tranh cấp tỉnh (PCI) năm 2022 xếp thứ 43/63.", set(), set(), set()),
]


@pytest.mark.parametrize("text, gold, must_fire, keywords", WORKED)
def test_worked_examples(text, gold, must_fire, keywords):
    got = fired(text)
    assert must_fire <= got, (must_fire - got, got)
    assert positive_labels(text) == gold
    assert set(keyword_labels(text)) == keywords
    assert set(keyword_labels(text)) <= gold  # the baseline may miss, but not invent, on these


@pytest.mark.parametrize(
    "text, lf",
    [
        ("Tỷ lệ cán bộ, đảng viên tham gia học tập nghị quyết đạt trên 95%.", "train_neg_study_resolution"),
        ("Đẩy mạnh Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh.", "train_neg_hcm"),
        ("Hội đã kết nạp thêm 500 hội viên mới trong năm.", "mem_neg_association"),
        ("Ông Nguyễn Văn A được bổ nhiệm giữ chức Giám đốc Sở Tài chính.", "restr_neg_appointment"),
        ("Cơ quan Cảnh sát điều tra đã khởi tố bị can về tội trộm cắp tài sản.", "insp_neg_criminal"),
        ("Trung tâm tổ chức kiểm tra sức khỏe định kỳ cho người cao tuổi.", "insp_neg_nonoversight"),
        ("Lực lượng chức năng kiểm tra xe tải quá tải trên quốc lộ 1.", "insp_neg_nonoversight"),
        ("Ông B được bầu làm Chủ nhiệm Ủy ban Kiểm tra Tỉnh ủy.", "insp_neg_election"),
        ("Ông là tiến sĩ kinh tế, trình độ cao cấp lý luận chính trị.", "train_neg_qualification"),
        ("Trường tuyển sinh 2.000 sinh viên đào tạo đại học chính quy.", "train_neg_school"),
        ("Bố trí chủ tịch UBND cấp xã không là người địa phương.", "restr_neg_nonlocal"),
        ("Bà Thủy là cán bộ được đào tạo cơ bản, trưởng thành từ cơ sở.", "train_neg_background"),
    ],
)
def test_negative_cues_fire(text, lf):
    assert LF[lf].polarity == NEGATIVE
    assert LF[lf](text) == NEGATIVE


@pytest.mark.parametrize(
    "text, label",
    [
        ("Hội đã kết nạp thêm 500 hội viên mới trong năm.", "membership"),
        ("Ông Nguyễn Văn A được bổ nhiệm giữ chức Giám đốc Sở Tài chính.", "restructuring"),
        ("Cơ quan Cảnh sát điều tra đã khởi tố bị can về tội trộm cắp tài sản.", "inspection"),
        ("Trung tâm tổ chức kiểm tra sức khỏe định kỳ cho người cao tuổi.", "inspection"),
        ("Đẩy mạnh Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh.", "training"),
        ("Ông Vũ Thanh Sơn, Phó vụ trưởng Vụ Đào tạo bồi dưỡng cán bộ, Ban Tổ chức Trung ương.", "training"),
        ("Trưởng ban Tuyên giáo đồng thời là Giám đốc Trung tâm bồi dưỡng chính trị cấp huyện.", "training"),
    ],
)
def test_negatives_keep_the_label_off(text, label):
    assert label not in positive_labels(text)


def test_positive_cues_per_label():
    assert "membership" in positive_labels("Chi bộ xét kết nạp quần chúng ưu tú vào Đảng.")
    assert "membership" in positive_labels("Đảng viên dự bị được công nhận đảng viên chính thức.")
    assert "membership" in positive_labels("Ông A chuyển sinh hoạt đảng về nơi cư trú.")
    assert "inspection" in positive_labels(
        "Ban Bí thư thi hành kỷ luật bằng hình thức cảnh cáo đối với ông B."
    )
    assert "inspection" in positive_labels("Tăng cường phòng, chống tham nhũng, tiêu cực.")
    assert "inspection" in positive_labels("Thanh tra tỉnh kết luận nhiều sai phạm tại Sở.")
    assert "restructuring" in positive_labels(
        "Thực hiện Nghị quyết 18-NQ/TW về sắp xếp tổ chức bộ máy tinh gọn."
    )
    assert "restructuring" in positive_labels("Sáp nhập hai phòng và giải thể ban quản lý dự án.")
    assert "restructuring" in positive_labels("Kiện toàn tổ chức bộ máy, xác định vị trí việc làm.")
    assert "training" in positive_labels("Cử 39 cán bộ đi học cao cấp lý luận chính trị.")
    assert "training" in positive_labels("Mở lớp nhận thức về Đảng cho quần chúng ưu tú.")
    assert "membership" in positive_labels("Mở lớp nhận thức về Đảng cho quần chúng ưu tú.")
    assert "training" in positive_labels("Tổ chức tập huấn nghiệp vụ cho cán bộ cơ sở.")


def test_fold_unifies_spelling_case_and_abbreviations():
    assert fold("UỶ BAN KIỂM TRA Tỉnh Uỷ") == fold("ủy ban kiểm tra tỉnh ủy")
    assert "đảng viên" in fold("Kết nạp 379 ĐV mới") and "lý luận chính trị" in fold("học LLCT")
    assert fold("Ủy ban\u00a0kiểm\u200b tra") == "ủy ban kiểm tra"
    # Same LF vote whatever the spelling.
    assert (
        LF["insp_body"]("Uỷ ban Kiểm tra Tỉnh uỷ họp.")
        == LF["insp_body"]("Ủy ban kiểm tra tỉnh ủy họp.")
        == POSITIVE
    )


def test_word_boundaries():
    assert LF["restr_apparatus"]("Bộ máy tinh gọn.") == POSITIVE
    assert LF["restr_apparatus"]("Xe tinh gọnx mới.") == ABSTAIN
    assert LF["insp_body"]("Xyủy ban kiểm tra") == ABSTAIN
    # 'đào tạo' inside the ministry's name is not training.
    assert LF["train_educate_generic"]("Giám đốc Sở Giáo dục và Đào tạo phát biểu.") == ABSTAIN
    assert keyword_labels("Chủ tịch huyện bị kỷ luật khiển trách.") == ["inspection"]


def test_apply_lfs_shape_and_report():
    texts = [w[0] for w in WORKED]
    L = apply_lfs(texts)
    assert L.shape == (len(texts), len(DEFAULT_LFS)) and L.dtype == np.int8
    Y = np.array([[lab in w[1] for lab in LABELS] for w in WORKED], dtype=int)
    rows = lf_report(L, Y)
    by = {r["lf"]: r for r in rows}
    assert by["mem_admit"]["fires"] == 1 and by["mem_admit"]["accuracy"] == 1.0
    assert by["restr_staff"]["coverage"] == pytest.approx(1 / len(texts))
    assert np.isnan(by["insp_complaint"]["accuracy"])


def test_lf_validation():
    with pytest.raises(ValueError, match="unknown label"):
        LabelingFunction("x", "politics", POSITIVE, "a")
    with pytest.raises(ValueError, match="polarity"):
        LabelingFunction("x", "training", 5, "a")
    with pytest.raises(ValueError, match="prior"):
        LabelingFunction("x", "training", POSITIVE, "a", prior=0.3)


# --- label model --------------------------------------------------------------------------------------

MINI = [
    LabelingFunction("m_pos", "membership", POSITIVE, "kết nạp", prior=0.9),
    LabelingFunction("m_weak", "membership", POSITIVE, "đảng viên", prior=0.6, max_precision=0.6),
    LabelingFunction("m_neg", "membership", NEGATIVE, "hội viên", prior=0.9),
    LabelingFunction("i_pos", "inspection", POSITIVE, "kỷ luật", prior=0.9),
]


def _mini_data():
    texts, ys, groups = [], [], []
    for a in range(10):
        for k in range(10):
            if k < 3:
                t, y = f"bài {a} kết nạp đảng viên số {k}", [1, 0, 0, 0]
            elif k == 3:
                t, y = f"bài {a} kết nạp hội viên", [0, 0, 0, 0]
            elif k == 4 and a < 5:
                t, y = f"bài {a} kỷ luật đảng viên", [0, 1, 0, 0]
            elif a < 5:
                t, y = f"bài {a} câu khác {k}", [0, 1, 0, 0]  # inspection by context only
            else:
                t, y = f"bài {a} câu khác {k}", [0, 0, 0, 0]
            texts.append(t)
            ys.append(y)
            groups.append(f"a{a}")
    return texts, np.array(ys), groups


def test_label_model_probabilities_follow_lf_accuracy():
    texts, Y, groups = _mini_data()
    L = apply_lfs(texts, MINI)
    model = LabelModel(MINI, strength=2.0).fit(L, Y)
    est = {e.name: e for e in model.estimates}
    assert est["m_pos"].precision == pytest.approx((30 + 2 * 0.9) / (40 + 2))
    assert est["m_weak"].precision == pytest.approx(0.6)  # capped
    P = model.predict_proba(apply_lfs(["kết nạp đảng viên mới", "kết nạp hội viên", "trời mưa"], MINI))
    m = LABELS.index("membership")
    assert P[0, m] > 0.9  # noisy-OR of two positives
    assert P[1, m] < 0.5 < P[0, m]  # the veto pulls the same cue down
    assert P[2, m] < 0.05
    assert P.shape == (3, len(LABELS)) and ((P >= 0) & (P <= 1)).all()


def test_label_model_context_buckets():
    texts, Y, groups = _mini_data()
    L = apply_lfs(texts, MINI)
    model = LabelModel(MINI, strength=2.0, context_threshold=0.8, hot_share=0.05).fit(L, Y, groups=groups)
    i = LABELS.index("inspection")
    ctx = model.residual_context["inspection"]
    assert ctx["hot"] > 0.5 > 0.05 > ctx["cold"]
    P = model.predict_proba(L, groups)
    other_in_hot = [j for j, t in enumerate(texts) if "câu khác" in t and groups[j] in {"a0", "a1"}]
    other_in_cold = [j for j, t in enumerate(texts) if "câu khác" in t and groups[j] in {"a8", "a9"}]
    assert P[other_in_hot, i].min() > 0.5 > P[other_in_cold, i].max()
    # Without article ids the context-free residual is used.
    assert model.predict_proba(L)[other_in_hot, i].max() < 0.5


def test_label_model_errors():
    model = LabelModel(MINI)
    with pytest.raises(RuntimeError):
        model.predict_proba(np.zeros((1, len(MINI)), dtype=np.int8))
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((3, 2)), np.zeros((3, 4)))
    texts, Y, groups = _mini_data()
    model.fit(apply_lfs(texts, MINI), Y, groups=groups)
    with pytest.raises(ValueError, match="groups"):
        model.predict_proba(apply_lfs(texts[:2], MINI), groups[:1])
