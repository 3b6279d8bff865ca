"""Labelling functions (LFs) for the four sentence topics, a label model combining them, and a keyword baseline.

Every LF looks at one sentence for ONE label and votes POSITIVE (1), NEGATIVE (0) or ABSTAIN (-1).
The cue phrases follow /work/shared/annotation/GUIDELINES.md: positives from each label's bullet list,
negatives from its "Not ..." notes (học tập nghị quyết ≠ training, hội viên ≠ Party member, appointing a
named person ≠ restructuring, criminal cases and health/vehicle checks ≠ inspection).

Matching runs on `fold(text)`: NFC, common abbreviations expanded (ĐV, UBKT, LLCT …), lower-cased, and
old/new tone placement unified (`uỷ`/`ủy`, `hoà`/`hòa`); every pattern is anchored on word boundaries.

`LabelModel` turns the LF votes into P(label) with a naive-Bayes generative model whose per-LF rates are
estimated on the TRAIN part of the hand labels (Beta-smoothed towards each LF's declared prior precision),
combined in log-odds (a logistic combination). `keyword_labels` is the plain baseline the evaluator
compares against: positive cue phrases only, no negatives, no weights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dangtopic import LABELS
from dangtopic.data.labels import canonical_tones
from dangtopic.data.text import normalize_sentence

POSITIVE, NEGATIVE, ABSTAIN = 1, 0, -1

# Case-sensitive abbreviations expanded before lower-casing, so "379 ĐV" counts as "379 đảng viên".
_ABBREVIATIONS = {
    "ĐV": "đảng viên",
    "UBKT": "ủy ban kiểm tra",
    "LLCT": "lý luận chính trị",
    "LLCTHC": "lý luận chính trị",
    "LLCT-HC": "lý luận chính trị",
    "TCCSĐ": "tổ chức cơ sở đảng",
    "PCTN": "phòng, chống tham nhũng",
    "PCTNTC": "phòng, chống tham nhũng, tiêu cực",
    "QCƯT": "quần chúng ưu tú",
    "HVCTQG": "học viện chính trị quốc gia",
}
_ABBR_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, _ABBREVIATIONS), key=len, reverse=True)) + r")(?!\w)"
)


def fold(text: str, normalized: bool = False) -> str:
    """The matching form of a sentence: normalised, abbreviations expanded, lower-cased, tones unified.

    `normalized=True` skips `normalize_sentence` for text that already went through it (VNDS reader).
    """
    s = text if normalized else normalize_sentence(text)
    s = _ABBR_RE.sub(lambda m: _ABBREVIATIONS[m.group(0)], s)
    return canonical_tones(s).lower()


def _compile(pattern: str | None) -> re.Pattern | None:
    if pattern is None:
        return None
    # Patterns (written in lower case) go through the same tone fold, so either tone style may be used.
    # No .lower() here: it would turn \S into \s.
    return re.compile(rf"(?<!\w)(?:{canonical_tones(pattern)})(?!\w)")


@dataclass
class LabelingFunction:
    """One rule for one label: fires when `pattern` matches (and `requires` matches, and `unless` does not).

    A POSITIVE LF votes 1 when it fires, a NEGATIVE LF votes 0; otherwise both abstain (-1).
    `prior` is the precision we expect when it fires, used to smooth estimates from few hand labels.
    """

    name: str
    label: str
    polarity: int
    pattern: str
    unless: str | None = None
    requires: str | None = None
    prior: float = 0.8
    doc: str = ""
    max_precision: float = 0.99
    _re: re.Pattern = field(init=False, repr=False)
    _unless: re.Pattern | None = field(init=False, repr=False)
    _requires: re.Pattern | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"LF {self.name}: unknown label {self.label!r}")
        if self.polarity not in (POSITIVE, NEGATIVE):
            raise ValueError(f"LF {self.name}: polarity must be POSITIVE or NEGATIVE")
        if not 0.5 <= self.prior < 1:
            raise ValueError(f"LF {self.name}: prior precision must be in [0.5, 1)")
        if not 0.5 <= self.max_precision < 1:
            raise ValueError(f"LF {self.name}: max_precision must be in [0.5, 1)")
        self._re = _compile(self.pattern)
        self._unless = _compile(self.unless)
        self._requires = _compile(self.requires)

    def vote_folded(self, folded: str) -> int:
        """Vote on an already `fold`ed sentence."""
        if not self._re.search(folded):
            return ABSTAIN
        if self._requires is not None and not self._requires.search(folded):
            return ABSTAIN
        if self._unless is not None and self._unless.search(folded):
            return ABSTAIN
        return self.polarity

    def __call__(self, text: str) -> int:
        return self.vote_folded(fold(text))


def _lf(name, label, polarity, pattern, unless=None, requires=None, prior=0.8, doc="", max_precision=0.99):
    return LabelingFunction(name, label, polarity, pattern, unless, requires, prior, doc, max_precision)


P, N = POSITIVE, NEGATIVE
_W = r"(?:\S+ )"  # one intermediate word (used as {0,n})
_OVERSIGHT = (
    r"kỷ luật|ủy ban kiểm tra|tham nhũng|khai trừ|cách chức|thanh tra|kiểm điểm|đình chỉ sinh hoạt|"
    r"đảng viên|cảnh cáo|khiển trách|tổ chức đảng|cấp ủy|đảng ủy|tỉnh ủy|thành ủy|huyện ủy"
)
_STRUCTURE = (
    r"sắp xếp|tinh gọn|sáp nhập|hợp nhất|giải thể|đầu mối|biên chế|bộ máy|cấp phó|cơ cấu tổ chức|"
    r"kiện toàn tổ chức|số lượng|chức năng, nhiệm vụ|thành lập"
)
_TRAINING_CUES = r"đào tạo|bồi dưỡng|lý luận chính trị|tập huấn|đi học|lớp"
_CADRE = r"cán bộ|công chức|viên chức|đảng viên|cấp ủy|lãnh đạo|lý luận chính trị|quản lý"

DEFAULT_LFS: list[LabelingFunction] = [
    # ---- membership ------------------------------------------------------------------------------------
    _lf(
        "mem_admit",
        "membership",
        P,
        rf"kết nạp {_W}{{0,6}}?(?:đảng viên|vào đảng|đảng)|lễ kết nạp",
        prior=0.9,
        doc="kết nạp (…) đảng viên / vào Đảng",
    ),
    _lf(
        "mem_candidate",
        "membership",
        P,
        r"quần chúng ưu tú|cảm tình đảng|đối tượng (?:kết nạp|đảng|phát triển đảng)|tạo nguồn (?:\S+ ){0,2}"
        r"(?:kết nạp|đảng viên)|phát triển đảng viên|chỉ tiêu kết nạp|nhận thức (?:chung )?về đảng|"
        r"vào đảng trái|đứng (?:\S+ ){0,2}vào hàng ngũ (?:của )?đảng|giới thiệu (?:\S+ ){1,6}vào đảng|"
        r"được vào đảng|vào đảng (?:năm|từ năm|khi)|xét kết nạp",
        prior=0.9,
        doc="admission pipeline: quần chúng ưu tú, phát triển đảng viên, vào Đảng",
    ),
    _lf(
        "mem_count",
        "membership",
        P,
        r"tổng số (?:\S+ ){0,3}đảng viên|nâng tổng số (?:\S+ ){0,6}đảng viên|\d[\d.,]*(?: \S+)? đảng viên|"
        r"(?:số lượng|tỷ lệ|tỉ lệ) đảng viên|đảng viên nữ|đảng viên (?:là )?(?:người )?(?:dân tộc|đồng bào)|"
        r"chưa có (?:tổ chức đảng, )?(?:chi bộ,? )?đảng viên|(?:thôn|bản|tổ dân phố|xã)[^.;]{0,30}(?:ít|có) đảng viên",
        unless=r"đảng viên (?:vi phạm|bị)",
        prior=0.6,
        max_precision=0.6,
        doc="member numbers and composition (weak: '392 đảng viên trẻ dự lễ' is not about membership)",
    ),
    _lf(
        "mem_manage",
        "membership",
        P,
        r"quản lý đảng viên|chuyển sinh hoạt(?: đảng)?|sinh hoạt đảng (?:ở|tại) nơi cư trú|hồ sơ (?:sinh hoạt )?đảng"
        r"(?: viên)?|lý lịch đảng viên|đảng viên dự bị|đảng viên chính thức|công nhận (?:\S+ ){0,2}chính thức|"
        r"chuyển đảng chính thức|huy hiệu (?:\S+ ){0,4}đảng|tuổi đảng|thẻ đảng(?: viên)?|đảng tịch|"
        r"danh sách đảng viên|miễn (?:công tác và )?sinh hoạt đảng|sổ tay đảng viên|tuổi (?:của )?đảng viên|"
        r"đảng phí|chuyển đảng|chuyển giao (?:\S+ ){0,8}đảng viên",
        unless=r"kỷ luật|vi phạm|kiểm điểm",
        prior=0.85,
        doc="managing members: chuyển sinh hoạt, dự bị → chính thức, huy hiệu, thẻ đảng",
    ),
    _lf(
        "mem_exclusion",
        "membership",
        P,
        r"xóa tên (?:\S+ ){0,6}(?:đảng viên|khỏi danh sách)|(?:đưa|ra) khỏi đảng|khai trừ|"
        r"(?:không đủ|tư cách) (?:tư cách )?đảng viên",
        prior=0.8,
        doc="removal from the Party (also inspection when disciplinary)",
    ),
    _lf(
        "mem_rating",
        "membership",
        P,
        r"(?:đánh giá|xếp loại|phân loại)[^.;]{0,60}đảng viên|đảng viên[^.;]{0,40}hoàn thành (?:xuất sắc |tốt )?"
        r"nhiệm vụ|dự phân loại|hạ mức xếp loại",
        unless=r"đánh giá cao|kỷ luật",
        prior=0.8,
        doc="annual assessment and rating of members",
    ),
    _lf(
        "mem_neg_association",
        "membership",
        N,
        r"hội viên|đoàn viên|xã viên|thành viên",
        unless=r"đảng viên|vào đảng|kết nạp đảng",
        prior=0.9,
        doc="hội viên / đoàn viên are not Party members",
    ),
    _lf(
        "mem_neg_oversight_count",
        "membership",
        N,
        r"(?:kiểm tra|giám sát|kỷ luật|khiển trách|cảnh cáo|vi phạm|xử lý)[^.;]{0,60}\d[\d.,]* (?:tổ chức đảng|"
        r"đảng viên)",
        unless=r"kết nạp|khai trừ|xóa tên|ra khỏi đảng|tổng số",
        prior=0.8,
        doc="member counts inside inspection/discipline figures",
    ),
    _lf(
        "mem_neg_org_count",
        "membership",
        N,
        r"\d[\d.,]* (?:tổ chức cơ sở đảng|chi bộ|đảng bộ|tổ chức đảng)",
        unless=r"đảng viên|kết nạp",
        prior=0.8,
        doc="counts of Party organisations only",
    ),
    # ---- inspection ------------------------------------------------------------------------------------
    _lf(
        "insp_body",
        "inspection",
        P,
        r"ủy ban kiểm tra|cơ quan kiểm tra|ngành kiểm tra|đoàn kiểm tra|đoàn giám sát|đoàn thanh tra|"
        r"thanh tra chính phủ|kiểm toán nhà nước|ban chỉ đạo (?:\S+ ){0,3}(?:phòng,? )?chống tham nhũng",
        prior=0.85,
        doc="UBKT and other oversight bodies",
    ),
    _lf(
        "insp_work",
        "inspection",
        P,
        r"kiểm tra,? giám sát|kiểm tra chấp hành|dấu hiệu vi phạm|giám sát chuyên đề|công tác kiểm tra|"
        r"tự kiểm tra|cuộc kiểm tra|cuộc giám sát|kiểm tra (?:\S+ ){0,3}(?:tổ chức đảng|đảng viên|cấp ủy|việc)|"
        r"thanh tra|kiểm toán|kê khai tài sản|kiểm soát (?:quyền lực|tài sản)|thẩm tra (?:\S+ ){0,3}(?:lý lịch|"
        r"đảng tịch|hồ sơ)|xác minh (?:\S+ ){0,3}(?:tài sản|đơn|lý lịch|đảng tịch|hồ sơ)|giám sát,? phản biện",
        prior=0.85,
        doc="inspection and supervision work",
    ),
    _lf(
        "insp_discipline",
        "inspection",
        P,
        r"kỷ luật|khiển trách|cảnh cáo|cách chức|cách (?:tất cả|hết|mọi) (?:các )?chức vụ|khai trừ|kiểm điểm|"
        r"xử lý (?:nghiêm )?(?:kỷ luật|vi phạm|trách nhiệm|sai phạm)|đình chỉ (?:công tác|sinh hoạt|chức vụ)|"
        r"tạm đình chỉ",
        unless=r"kỷ luật lao động",
        prior=0.85,
        doc="discipline of cadres and members",
    ),
    _lf(
        "insp_violation",
        "inspection",
        P,
        r"sai phạm|vi phạm (?:nguyên tắc|quy định|điều lệ|quy chế)|thiếu trách nhiệm|buông lỏng|khuyết điểm|"
        r"chịu trách nhiệm|trách nhiệm (?:của )?người đứng đầu",
        prior=0.7,
        max_precision=0.8,
        doc="violations and responsibility (often reviewed)",
    ),
    _lf(
        "insp_complaint",
        "inspection",
        P,
        r"đơn thư|khiếu nại|tố cáo|khiếu kiện",
        prior=0.8,
        doc="complaints and denunciations",
    ),
    _lf(
        "insp_corruption",
        "inspection",
        P,
        r"tham nhũng|phòng,? chống (?:\S+,? ){0,3}tiêu cực|kiểm soát quyền lực|lợi ích nhóm|chạy chức|chạy quyền|"
        r"chống lãng phí",
        prior=0.85,
        doc="anti-corruption and control of power",
    ),
    _lf(
        "insp_supervision",
        "inspection",
        P,
        r"giám sát",
        unless=r"camera|giám sát (?:thi công|công trình|môi trường|dịch|chất lượng|hành trình)|tư vấn giám sát|"
        r"(?:thiết bị|hệ thống) giám sát",
        prior=0.7,
        max_precision=0.8,
        doc="supervision (incl. Fatherland Front, HĐND, press)",
    ),
    _lf(
        "insp_check_generic",
        "inspection",
        P,
        r"kiểm tra",
        prior=0.6,
        max_precision=0.7,
        doc="bare 'kiểm tra' (weak: never a confident positive alone)",
    ),
    _lf(
        "insp_neg_nonoversight",
        "inspection",
        N,
        r"(?:kiểm tra|khám) sức khỏe|kiểm tra (?:\S+ ){0,1}(?:xe|phương tiện|nồng độ|tải trọng|hành chính|"
        r"giấy tờ|hiện trường|kỹ thuật|an toàn|thực phẩm|hàng hóa|thân nhiệt|y tế|chất lượng (?:sản phẩm|hàng|nước))|"
        r"đăng kiểm|bài kiểm tra|cảnh sát giao thông|vi phạm (?:luật )?giao thông|nồng độ cồn",
        unless=_OVERSIGHT,
        prior=0.85,
        doc="health/vehicle/product checks are not oversight",
    ),
    _lf(
        "insp_neg_criminal",
        "inspection",
        N,
        r"khởi tố|bị can|bị cáo|truy tố|xét xử|phiên tòa|tòa án|tạm giam|bắt giữ|phạt tù|tù giam|án tù|"
        r"cơ quan (?:cảnh sát )?điều tra|vụ án|đối tượng|tội (?:giết|cướp|trộm|lừa|buôn|giả)",
        unless=_OVERSIGHT + r"|tiêu cực|sai phạm|nhận hối lộ|kiểm sát",
        prior=0.8,
        doc="criminal case without a Party/state oversight angle",
    ),
    _lf(
        "insp_neg_election",
        "inspection",
        N,
        r"(?:bầu|bổ nhiệm|giữ chức|làm|tái cử|giới thiệu|ứng cử|kiêm|hiện là)(?: \S+){0,3} (?:chủ nhiệm|phó chủ nhiệm|"
        r"ủy viên) ủy ban kiểm tra|(?:chủ nhiệm|phó chủ nhiệm) ủy ban kiểm tra [^.;]{0,40}(?:được bầu|nhận quyết định)",
        unless=r"kỷ luật|vi phạm|cảnh cáo|khiển trách|kiểm tra,? giám sát|công tác kiểm tra",
        prior=0.8,
        doc="electing/appointing a UBKT chair is not inspection",
    ),
    # ---- restructuring ---------------------------------------------------------------------------------
    _lf(
        "restr_apparatus",
        "restructuring",
        P,
        r"tinh gọn|cồng kềnh|(?:sắp xếp|tổ chức lại|kiện toàn|cơ cấu lại|đổi mới|củng cố)(?: \S+){0,5} bộ máy|"
        r"bộ máy (?:\S+ ){0,3}(?:tinh gọn|hoạt động hiệu lực)",
        prior=0.85,
        doc="sắp xếp, tinh gọn bộ máy",
    ),
    _lf(
        "restr_merge",
        "restructuring",
        P,
        r"sáp nhập|hợp nhất|giải thể|chia tách|sắp xếp (?:lại )?(?:các )?(?:\S+ ){0,2}(?:đơn vị hành chính|"
        r"huyện|xã|phường|thôn|tổ dân phố|phòng|ban|sở|cục|vụ|đơn vị sự nghiệp|trường|đầu mối|tổ chức|cơ quan|"
        r"ban quản lý|đảng bộ|chi bộ|mô hình)|thành lập (?:mới )?(?:\S+ ){0,2}(?:chi bộ|đảng bộ|tổ chức (?:cơ sở )?đảng)|"
        r"nâng cấp (?:\S+ ){0,3}(?:chi bộ|đảng bộ)|(?:về|lên) trực thuộc|chuyển giao (?:\S+ ){0,5}(?:chi bộ|"
        r"đảng bộ|tổ chức đảng)|nhất thể hóa|nhập (?:\S+ ){0,2}(?:phường|xã|huyện|tỉnh|thôn|tổ dân phố) "
        r"(?:thành|làm|vào)|tổ chức lại (?:\S+ ){0,3}(?:đảng bộ|sở|phòng|ban|cơ quan|đơn vị|bộ phận|các)|"
        r"kết thúc hoạt động (?:\S+ ){0,3}ban chỉ đạo",
        unless=r"năm thành lập|ngày thành lập|kỷ niệm",
        prior=0.85,
        doc="merging, dissolving, establishing, transferring units",
    ),
    _lf(
        "restr_staff",
        "restructuring",
        P,
        r"tinh giản|biên chế|vị trí việc làm|dôi dư|nghỉ hưu trước tuổi|nghị định (?:số )?108|đầu mối|"
        r"cấp trung gian|khâu trung gian|(?:số lượng |giảm (?:\S+ ){0,2})cấp phó|giảm (?:\S+ ){0,2}(?:lãnh đạo|"
        r"phòng|ban|trưởng phòng|phó phòng|đơn vị)",
        prior=0.85,
        doc="downsizing, payroll, đầu mối, cấp phó",
    ),
    _lf(
        "restr_consolidate",
        "restructuring",
        P,
        r"kiện toàn(?: \S+){0,3} (?:tổ chức|cấp ủy|ban|ủy ban|đảng bộ|chi bộ|hệ thống chính trị|các chức danh|"
        r"ban chỉ đạo|bộ phận)|củng cố(?: \S+){0,3} tổ chức (?:cơ sở )?(?:đảng|bộ máy)|quy định (?:về )?chức năng,? "
        r"nhiệm vụ|cơ cấu tổ chức|(?:chủ trương|mô hình|thực hiện|thí điểm)(?: \S+){0,5} (?:bí thư|trưởng ban)"
        r"(?: \S+){0,5} (?:đồng thời là|kiêm)|bí thư (?:cấp ủy|chi bộ)(?: \S+){0,2} (?:đồng thời là|kiêm)",
        prior=0.8,
        doc="kiện toàn tổ chức, chức năng nhiệm vụ, concurrent-post models",
    ),
    _lf(
        "restr_resolution",
        "restructuring",
        P,
        r"(?:18|19|39|37)\s?-\s?nq\s?/\s?tw|nghị quyết (?:số )?(?:18|19|39)(?![\d/-])|"
        r"nghị quyết (?:số )?(?:18|19),? 19",
        prior=0.8,
        doc="Resolutions 18, 19, 39 (and 37 on administrative units)",
    ),
    _lf(
        "restr_neg_appointment",
        "restructuring",
        N,
        r"bổ nhiệm|được bầu|bầu (?:\S+ ){0,3}(?:giữ chức|làm|vào)|giữ chức|điều động|luân chuyển|miễn nhiệm|"
        r"nghỉ hưu|tái cử|ứng cử|chỉ định (?:\S+ ){0,3}(?:tham gia|giữ)|nhận quyết định",
        unless=_STRUCTURE,
        prior=0.8,
        doc="appointing/electing/rotating a person",
    ),
    _lf(
        "restr_neg_nonlocal",
        "restructuring",
        N,
        r"không (?:phải )?là người địa phương",
        unless=r"đồng thời là|kiêm|sắp xếp|tinh gọn",
        prior=0.85,
        doc="bố trí cán bộ không là người địa phương",
    ),
    _lf(
        "restr_neg_business",
        "restructuring",
        N,
        r"mua bán,? sáp nhập|m&a|sáp nhập (?:\S+ ){0,2}(?:ngân hàng|công ty|doanh nghiệp|tập đoàn)|hợp nhất "
        r"(?:\S+ ){0,2}(?:ngân hàng|công ty|doanh nghiệp)|cổ phần hóa|thoái vốn|tái cơ cấu (?:\S+ ){0,2}(?:ngân hàng|"
        r"doanh nghiệp|nợ)",
        prior=0.8,
        doc="business mergers are not the state apparatus",
    ),
    # ---- training --------------------------------------------------------------------------------------
    _lf(
        "train_political_theory",
        "training",
        P,
        r"lý luận chính trị|(?:sơ|trung|cao) cấp lý luận|bồi dưỡng chính trị",
        unless=r"(?:đồng thời là|kiêm) giám đốc trung tâm|hội đồng lý luận",
        prior=0.85,
        doc="political theory (LLCT) courses",
    ),
    _lf(
        "train_political_school",
        "training",
        P,
        r"học viện chính trị|trường chính trị|trung tâm bồi dưỡng chính trị",
        unless=r"(?:đồng thời là|kiêm) giám đốc trung tâm",
        prior=0.65,
        max_precision=0.7,
        doc="political schools (weak: often just an institution's name)",
    ),
    _lf(
        "train_foster",
        "training",
        P,
        r"bồi dưỡng",
        unless=r"tiền bồi dưỡng|chi bồi dưỡng|mức bồi dưỡng|bồi dưỡng (?:sức|học sinh|năng khiếu|thêm)|"
        r"học sinh giỏi|vụ (?:\S+ ){0,3}bồi dưỡng|(?:đồng thời là|kiêm) giám đốc trung tâm",
        prior=0.85,
        doc="bồi dưỡng (cadres, nghiệp vụ, kiến thức)",
    ),
    _lf(
        "train_educate_cadre",
        "training",
        P,
        r"(?<!giáo dục và )(?<!giáo dục - )(?<!giáo dục, )đào tạo",
        requires=r"cán bộ|công chức|viên chức|đảng viên|cấp ủy|thạc sĩ|tiến sĩ|sau đại học|cử đi|bồi dưỡng|"
        r"chuẩn hóa|lý luận|tạo nguồn|quy hoạch|nguồn cán bộ",
        unless=r"học sinh|sinh viên|đào tạo nghề|lao động nông thôn|tuyển sinh|vụ (?:\S+ ){0,1}đào tạo",
        prior=0.85,
        doc="đào tạo of cadres/members (not schools, not the Ministry's name)",
    ),
    _lf(
        "train_educate_generic",
        "training",
        P,
        r"(?<!giáo dục và )(?<!giáo dục - )(?<!giáo dục, )đào tạo",
        prior=0.55,
        max_precision=0.6,
        doc="bare 'đào tạo' (weak: never a confident positive alone)",
    ),
    _lf(
        "train_course",
        "training",
        P,
        r"tập huấn|lớp (?:học|bồi dưỡng|tập huấn|đào tạo|nhận thức|trung cấp|cao cấp|sơ cấp|đảng viên mới|nguồn)|"
        r"khóa (?:học|đào tạo|bồi dưỡng|tập huấn)|cử (?:\S+ ){0,6}đi (?:học|đào tạo|bồi dưỡng|tập huấn)|"
        r"nghiên cứu sinh|(?:đào tạo|học|đi học) (?:thạc sĩ|tiến sĩ|sau đại học|cao học)|"
        r"chuẩn hóa (?:trình độ|cán bộ|đội ngũ)|nâng cao trình độ|chiêu sinh|học tập trung|giảng viên (?:\S+ ){0,2}"
        r"(?:chính trị|lý luận)|chương trình đào tạo",
        prior=0.8,
        doc="courses, classes, sending cadres to study",
    ),
    _lf(
        "train_go_study",
        "training",
        P,
        r"đi học|học tập trung|theo học",
        requires=r"cán bộ|công chức|viên chức|đảng viên|lãnh đạo|cơ quan|ban tổ chức|cấp ủy|ngân sách",
        unless=r"học sinh|trẻ em|các em|con (?:\S+ ){0,2}đi học|đi học nghị quyết|học tập nghị quyết",
        prior=0.7,
        doc="a cadre going to study",
    ),
    _lf(
        "train_neg_qualification",
        "training",
        N,
        r"(?:trình độ|có bằng|bằng|chứng chỉ|học vị|học hàm)(?: \S+){0,3} (?:lý luận chính trị|thạc sĩ|tiến sĩ|"
        r"cao cấp|trung cấp|sơ cấp|cử nhân|kỹ sư|đại học)|trình độ chuyên môn|sinh năm|quê quán",
        unless=r"đào tạo|bồi dưỡng|cử (?:\S+ ){0,6}đi|đi học|lớp|khóa|chuẩn hóa",
        prior=0.8,
        doc="a person's degrees/qualifications (biographies, appointment criteria) are not training",
    ),
    _lf(
        "train_neg_background",
        "training",
        N,
        r"được đào tạo (?:cơ bản|bài bản|chính quy|đúng chuyên ngành)|(?:chuyên môn|chuyên ngành|ngành) (?:được )?"
        r"đào tạo|văn bằng|bằng cấp",
        unless=r"cử (?:\S+ ){0,6}đi|đi học|lớp|khóa|bồi dưỡng|(?:chính sách|công tác|kế hoạch|đề án) đào tạo",
        prior=0.8,
        doc="a person's educational background ('cán bộ được đào tạo cơ bản') is not training",
    ),
    _lf(
        "train_neg_study_resolution",
        "training",
        N,
        r"(?:học tập|quán triệt|triển khai|phổ biến|tuyên truyền|nghiên cứu)(?:,? (?:và )?(?:học tập|quán triệt|"
        r"triển khai|phổ biến|tuyên truyền|nghiên cứu))*(?: \S+){0,5} (?:nghị quyết|chỉ thị|kết luận|quy định|"
        r"văn kiện|văn bản)",
        unless=r"bồi dưỡng|đào tạo|lý luận chính trị|tập huấn|lớp",
        prior=0.85,
        doc="studying/disseminating resolutions is not training",
    ),
    _lf(
        "train_neg_hcm",
        "training",
        N,
        r"học tập và làm theo|làm theo (?:tư tưởng|tấm gương|lời bác)|tấm gương đạo đức|học tập (?:\S+ ){0,2}"
        r"theo gương",
        prior=0.9,
        doc="Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
    ),
    _lf(
        "train_neg_ideology",
        "training",
        N,
        r"giáo dục (?:chính trị,? )?tư tưởng|giáo dục (?:phẩm chất,? )?đạo đức|giáo dục truyền thống|rèn luyện đạo đức",
        unless=r"lý luận chính trị|bồi dưỡng|đào tạo|lớp|tập huấn",
        prior=0.85,
        doc="ideological education is not training",
    ),
    _lf(
        "train_neg_school",
        "training",
        N,
        r"học sinh|sinh viên|trẻ em|mầm non|tuyển sinh|điểm thi|kỳ thi|thí sinh|phụ huynh|đào tạo nghề|"
        r"học nghề|lao động nông thôn|trường (?:tiểu học|thcs|thpt|trung học|đại học)",
        unless=r"cán bộ|công chức|đảng viên|lý luận chính trị|cấp ủy|cử đi",
        prior=0.85,
        doc="schools, universities and vocational training of the public",
    ),
    _lf(
        "train_neg_planning",
        "training",
        N,
        r"quy hoạch|luân chuyển|bổ nhiệm|điều động",
        unless=_TRAINING_CUES,
        prior=0.85,
        doc="cadre planning/rotation without training",
    ),
    _lf(
        "train_neg_unit_name",
        "training",
        N,
        r"vụ (?:trưởng )?(?:vụ )?đào tạo|phó vụ trưởng (?:\S+ ){0,2}đào tạo|bộ giáo dục và đào tạo|"
        r"sở giáo dục và đào tạo",
        unless=r"cử (?:\S+ ){0,6}đi|lớp|khóa",
        prior=0.8,
        doc="'đào tạo' inside a unit's name",
    ),
]


def lf_names(lfs: Sequence[LabelingFunction] = DEFAULT_LFS) -> list[str]:
    return [lf.name for lf in lfs]


def apply_lfs(
    texts: Iterable[str], lfs: Sequence[LabelingFunction] = DEFAULT_LFS, normalized: bool = False
) -> np.ndarray:
    """Vote matrix (n_sentences × n_lfs) of POSITIVE / NEGATIVE / ABSTAIN, dtype int8."""
    rows = []
    for t in texts:
        f = fold(t, normalized)
        rows.append([lf.vote_folded(f) for lf in lfs])
    return np.asarray(rows, dtype=np.int8).reshape(-1, len(lfs))


# --- keyword baseline -----------------------------------------------------------------------------------

KEYWORDS: dict[str, list[str]] = {
    "membership": [
        "kết nạp đảng viên",
        "kết nạp đảng",
        "kết nạp vào đảng",
        "quần chúng ưu tú",
        "phát triển đảng viên",
        "chuyển sinh hoạt đảng",
        "đảng viên dự bị",
        "phân loại đảng viên",
        "xếp loại đảng viên",
        "tổng số đảng viên",
        "huy hiệu đảng",
        "thẻ đảng",
        "quản lý đảng viên",
    ],
    "inspection": [
        "ủy ban kiểm tra",
        "kiểm tra, giám sát",
        "kiểm tra",
        "giám sát",
        "kỷ luật",
        "khiển trách",
        "cảnh cáo",
        "cách chức",
        "khai trừ",
        "thanh tra",
        "kiểm toán",
        "tố cáo",
        "khiếu nại",
        "tham nhũng",
    ],
    "restructuring": [
        "sắp xếp tổ chức bộ máy",
        "sắp xếp bộ máy",
        "tinh gọn",
        "sáp nhập",
        "hợp nhất",
        "giải thể",
        "giảm đầu mối",
        "tinh giản biên chế",
        "biên chế",
        "kiện toàn tổ chức",
        "vị trí việc làm",
        "18-nq/tw",
        "19-nq/tw",
        "39-nq/tw",
    ],
    "training": [
        "đào tạo",
        "bồi dưỡng",
        "lý luận chính trị",
        "tập huấn",
        "lớp nhận thức về đảng",
        "cử đi học",
    ],
}
_KEYWORD_RE = {
    lab: _compile("|".join(re.escape(k.lower()) for k in words)) for lab, words in KEYWORDS.items()
}


def keyword_labels(text: str) -> list[str]:
    """Baseline: every label one of whose plain cue phrases occurs in the sentence (no negatives, no weights)."""
    f = fold(text)
    return [lab for lab in LABELS if _KEYWORD_RE[lab].search(f)]


# --- label model ----------------------------------------------------------------------------------------


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass
class LFEstimate:
    """One LF's statistics on the fitting data and the weight the label model gives it."""

    name: str
    label: str
    polarity: int
    fires: int  # on the fitting data
    correct: int  # … and its vote was right
    fires_with_positive: int  # negative LFs: fires while a positive LF of its label also fires
    correct_with_positive: int
    precision: float  # smoothed; for negative LFs the veto precision (only defined alongside a positive)
    weight: float  # log-odds contribution when it fires


class LabelModel:
    """Combine LF votes into P(label), one binary model per label, from accuracies measured on TRAIN labels.

    * Positive LFs: precision p_j = P(label | LF fires), Beta-smoothed towards the LF's declared prior
      (and capped by `max_precision` for deliberately weak cues). Fired positives combine by noisy-OR,
      P+ = 1 − Π(1 − p_j).
    * Negative LFs act as vetoes: q_k = P(not label | LF k fires and some positive LF fires), smoothed the
      same way; each fired veto subtracts logit(q_k) (≥ 0) from the log-odds, so a 0.9 cue against a 0.9
      veto ends near 0.5: uncertain, and kept out of the confident sets.
    * No positive fires: P = r0, the label's rate among hand-labelled TRAIN sentences where none fires,
      again lowered by any veto. Annotators label what a sentence is about *in its article*, so when
      article ids are given r0 depends on the article's context bucket: the share of its sentences that
      are confident positives (P+ ≥ `context_threshold`) is 0 ("cold"), below `hot_share` ("warm") or
      above ("hot"). In hot articles most cue-less sentences carry the label; in cold ones almost none.
    P(label) = σ(logit(P+ or r0) − Σ veto weights). Fit only on training data (hand TRAIN part, plus
    optional extra training-only labels for the precision counts), never on dev/test.
    """

    BUCKETS = ("cold", "warm", "hot")

    def __init__(
        self,
        lfs: Sequence[LabelingFunction] = DEFAULT_LFS,
        strength: float = 10.0,
        context_threshold: float = 0.8,
        hot_share: float = 0.3,
    ) -> None:
        self.lfs = list(lfs)
        self.strength = float(strength)
        self.context_threshold = float(context_threshold)
        self.hot_share = float(hot_share)
        self.residual: dict[str, float] = {}
        self.residual_context: dict[str, dict[str, float]] = {}
        self.estimates: list[LFEstimate] = []

    def _positive_fired(self, L: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for lab in LABELS:
            cols = [j for j, lf in enumerate(self.lfs) if lf.label == lab and lf.polarity == POSITIVE]
            out[lab] = (L[:, cols] != ABSTAIN).any(axis=1) if cols else np.zeros(len(L), dtype=bool)
        return out

    def fit(
        self,
        L: np.ndarray,
        Y: np.ndarray,
        L_extra: np.ndarray | None = None,
        Y_extra: np.ndarray | None = None,
        groups: Sequence[str] | None = None,
    ) -> LabelModel:
        """Fit on votes `L` (n × m) and gold multi-hot `Y` (n × 4) of TRAINING sentences.

        `L_extra/Y_extra` (e.g. the extra hand labels, sampled where LFs fire) count towards precisions
        only, not towards the residual rate r0, whose sample they would bias. `groups` (article id per row
        of `L`) enables the context-dependent r0.
        """
        L, Y = np.asarray(L), np.asarray(Y).astype(bool)
        if L.ndim != 2 or L.shape != (len(Y), len(self.lfs)) or Y.shape[1:] != (len(LABELS),):
            raise ValueError(f"shape mismatch: L {L.shape}, Y {Y.shape}, {len(self.lfs)} LFs")
        if L_extra is None or len(L_extra) == 0:
            L_extra, Y_extra = L[:0], Y[:0]
        Lp = np.concatenate([L, np.asarray(L_extra)])
        Yp = np.concatenate([Y, np.asarray(Y_extra).astype(bool)])
        k = self.strength
        pos_fired, pos_fired_p = self._positive_fired(L), self._positive_fired(Lp)
        self.residual = {}
        for li, lab in enumerate(LABELS):
            none = ~pos_fired[lab]
            self.residual[lab] = float((Y[none, li].sum() + 0.5) / (none.sum() + 1))
        self.estimates = []
        for j, lf in enumerate(self.lfs):
            li = LABELS.index(lf.label)
            fire = Lp[:, j] != ABSTAIN
            right = Yp[:, li] if lf.polarity == POSITIVE else ~Yp[:, li]
            n, c = int(fire.sum()), int((fire & right).sum())
            nw, cw = n, c
            if lf.polarity == POSITIVE:
                prec = min((c + k * lf.prior) / (n + k), lf.max_precision)
                weight = _logit(prec)
            else:
                both = fire & pos_fired_p[lf.label]
                nw, cw = int(both.sum()), int((both & right).sum())
                prec = (cw + k * lf.prior) / (nw + k)
                weight = max(_logit(prec), 0.0)
            self.estimates.append(
                LFEstimate(lf.name, lf.label, lf.polarity, n, c, nw, cw, float(prec), weight)
            )
        self.residual_context = {}
        if groups is not None:
            buckets = self._buckets(L, groups)
            for li, lab in enumerate(LABELS):
                none = ~pos_fired[lab]
                self.residual_context[lab] = {}
                for b in range(len(self.BUCKETS)):
                    sel = none & (buckets[:, li] == b)
                    # Shrink towards the context-free rate: some buckets hold only a few articles.
                    r = (Y[sel, li].sum() + 5 * self.residual[lab]) / (sel.sum() + 5)
                    self.residual_context[lab][self.BUCKETS[b]] = float(r)
        return self

    def _positive_proba(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P+ by noisy-OR, whether any positive fired), each n × 4."""
        p = np.zeros((len(L), len(LABELS)))
        fired = np.zeros((len(L), len(LABELS)), dtype=bool)
        for li, lab in enumerate(LABELS):
            miss = np.ones(len(L))
            for j, est in enumerate(self.estimates):
                if est.label == lab and est.polarity == POSITIVE:
                    miss = np.where(L[:, j] != ABSTAIN, miss * (1 - est.precision), miss)
            p[:, li], fired[:, li] = 1 - miss, miss < 1
        return p, fired

    def _buckets(self, L: np.ndarray, groups: Sequence[str]) -> np.ndarray:
        """Context bucket (0 cold, 1 warm, 2 hot) of each row's article, per label."""
        if len(groups) != len(L):
            raise ValueError(f"groups has {len(groups)} entries for {len(L)} rows")
        p, _ = self._positive_proba(np.asarray(L))
        conf = p >= self.context_threshold
        rows: dict[str, list[int]] = {}
        for i, g in enumerate(groups):
            rows.setdefault(g, []).append(i)
        out = np.zeros((len(L), len(LABELS)), dtype=np.int8)
        for idx in rows.values():
            share = conf[idx].mean(axis=0)
            out[idx] = np.where(share == 0, 0, np.where(share < self.hot_share, 1, 2))
        return out

    def log_odds(self, L: np.ndarray, groups: Sequence[str] | None = None) -> np.ndarray:
        """(n × 4) log-odds of each label given the votes (and the article of each row, if known)."""
        if not self.estimates:
            raise RuntimeError("LabelModel is not fitted")
        L = np.asarray(L)
        p_pos, any_pos = self._positive_proba(L)
        if groups is not None and self.residual_context:
            buckets = self._buckets(L, groups)
            table = np.array([[self.residual_context[lab][b] for b in self.BUCKETS] for lab in LABELS])
            resid = table[np.arange(len(LABELS))[None, :], buckets]
        else:
            resid = np.tile([self.residual[lab] for lab in LABELS], (len(L), 1))
        p = np.clip(np.where(any_pos, p_pos, resid), 1e-6, 1 - 1e-6)
        out = np.log(p / (1 - p))
        for j, est in enumerate(self.estimates):
            if est.polarity == NEGATIVE:
                out[:, LABELS.index(est.label)] -= np.where(L[:, j] != ABSTAIN, est.weight, 0.0)
        return out

    def predict_proba(self, L: np.ndarray, groups: Sequence[str] | None = None) -> np.ndarray:
        """(n × 4) P(label | votes) in `LABELS` order; `groups` = article id per row enables context."""
        return 1 / (1 + np.exp(-self.log_odds(L, groups)))

    def predict_texts(
        self, texts: Sequence[str], threshold: float = 0.5, groups: Sequence[str] | None = None
    ) -> list[list[str]]:
        """Labels with P ≥ `threshold` for each text."""
        probs = self.predict_proba(apply_lfs(texts, self.lfs), groups)
        return [[lab for li, lab in enumerate(LABELS) if row[li] >= threshold] for row in probs]

    def to_dict(self) -> dict:
        return {
            "strength": self.strength,
            "residual": self.residual,
            "residual_context": self.residual_context,
            "context_threshold": self.context_threshold,
            "hot_share": self.hot_share,
            "lfs": [dict(est.__dict__) for est in self.estimates],
        }


def lf_report(L: np.ndarray, Y: np.ndarray, lfs: Sequence[LabelingFunction] = DEFAULT_LFS) -> list[dict]:
    """Coverage (share of sentences where the LF fires) and accuracy (vote right when it fires) per LF."""
    L, Y = np.asarray(L), np.asarray(Y, dtype=bool)
    rows = []
    for j, lf in enumerate(lfs):
        fire = L[:, j] != ABSTAIN
        y = Y[:, LABELS.index(lf.label)]
        right = y if lf.polarity == POSITIVE else ~y
        n = int(fire.sum())
        rows.append(
            {
                "lf": lf.name,
                "label": lf.label,
                "polarity": "+" if lf.polarity == POSITIVE else "-",
                "fires": n,
                "coverage": n / len(L) if len(L) else 0.0,
                "accuracy": float((fire & right).sum() / n) if n else float("nan"),
            }
        )
    return rows
