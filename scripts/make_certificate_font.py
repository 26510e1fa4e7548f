"""Make quiz/static/fonts/wqy-microhei-gbk.ttf, the font embedded in certificates (quiz/certificates.py).

A subset of WenQuanYi Micro Hei (Debian's fonts-wqy-microhei; Apache-2.0 or GPL-3+ with
the font exception, see LICENSE-wqy-microhei.txt beside the font): printable ASCII,
Latin-1, general and CJK punctuation, full-width forms and every character of GBK, which
holds GB2312's 6,763 hanzi and the whole CJK Unified Ideographs block (U+4E00-U+9FA5),
so that names written with rarer characters (喆, 堃, 珺) print too. About 3 MB; the PDF
embeds only the glyphs it uses. Hinting and OpenType layout tables are dropped (print at
certificate sizes needs neither).

Run once, on a machine with the Debian package installed (the app needs only the result):
    apt-get install fonts-wqy-microhei
    .venv/bin/python scripts/make_certificate_font.py
"""
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

SOURCE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # face 0: WenQuanYi Micro Hei
TARGET = Path(__file__).resolve().parent.parent / "quiz" / "static" / "fonts" / "wqy-microhei-gbk.ttf"


def gbk_characters() -> set[str]:
    """Every single character that a two-byte GBK code decodes to."""
    chars = set()
    for high in range(0x81, 0xFF):
        for low in range(0x40, 0xFF):
            try:
                char = bytes([high, low]).decode("gbk")
            except UnicodeDecodeError:
                continue
            if len(char) == 1:
                chars.add(char)
    return chars


def wanted() -> set[int]:
    ranges = [(0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x203B), (0x3000, 0x303F), (0xFF01, 0xFF5E), (0xFFE0, 0xFFE6)]
    codes = {code for first, last in ranges for code in range(first, last + 1)}
    return codes | {ord(char) for char in gbk_characters()}


def main() -> int:
    font = TTFont(SOURCE, fontNumber=0)
    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.notdef_outline = True  # a character outside the subset prints as an empty box, visibly
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted()))
    subsetter.subset(font)
    font.save(TARGET)
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes, {len(font.getBestCmap()):,} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
