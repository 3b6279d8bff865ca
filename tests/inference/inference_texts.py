"""Article texts shared by the inference tests (raw, page furniture included)."""

# Paragraphs of a Party-building article plus page furniture, as scraped.
ARTICLE = """Nâng cao chất lượng công tác xây dựng Đảng ở cơ sở

Trang chủ | Tin tức | Liên hệ

Năm 2023, toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên. Công tác đánh giá, xếp loại đảng viên được thực hiện nghiêm túc, đúng quy định.

Cấp ủy, ủy ban kiểm tra các cấp đã kiểm tra chấp hành 1.263 tổ chức đảng và 4.797 đảng viên. Qua kiểm tra, đã thi hành kỷ luật 25 đảng viên vi phạm.

Tỉnh đã sắp xếp, giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo cấp phòng. Đồng thời, tỉnh đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.

Việc quán triệt, học tập các nghị quyết của Đảng được chú trọng đổi mới về nội dung và hình thức.
"""

ARTICLE_2 = """Thành phố tinh gọn bộ máy, tinh giản biên chế

Thực hiện Nghị quyết 18-NQ/TW, thành phố đã hợp nhất các phòng chuyên môn và giảm nhiều đầu mối trực thuộc. Số biên chế được giao năm nay giảm so với năm trước.

Ban Thường vụ Thành ủy chỉ đạo mở các lớp bồi dưỡng lý luận chính trị cho đảng viên mới. Các lớp tập huấn nghiệp vụ công tác đảng được tổ chức thường xuyên cho cán bộ cơ sở.
"""

# Not Vietnamese: an error record.
ENGLISH = (
    "The quarterly report covers revenue growth across all regions. Sales of the new product line exceeded "
    "expectations, and the board approved a dividend for shareholders.\n\nAnalysts expect further growth "
    "next year as the company expands into new markets."
)
