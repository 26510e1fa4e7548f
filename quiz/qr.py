"""QR codes of URLs: as SVG for pages and displays, as a module grid for drawing into a PDF.

Error correction M (15 % of the symbol may be damaged: a printed certificate that is
folded or stamped still scans); the quiet zone of four modules that scanners need is
part of the SVG and left to the caller when drawing the grid.
"""
import segno

QUIET_ZONE = 4  # modules of white around the symbol (ISO/IEC 18004)


def _symbol(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False, boost_error=False)


def qr_modules(url: str) -> tuple[tuple[bool, ...], ...]:
    """The symbol's dark (True) and light modules, row by row from the top, without the quiet zone."""
    return tuple(tuple(bool(module) for module in row) for row in _symbol(url).matrix)


def qr_svg(url: str, module_px: int = 4, title: str | None = None, scalable: bool = False) -> str:
    """An inline <svg> element (black on white, quiet zone included), `module_px` pixels a module;
    scalable: a viewBox instead of width and height, so that CSS sizes it (displays, posters)."""
    return _symbol(url).svg_inline(scale=module_px, border=QUIET_ZONE, dark="#000", light="#fff",
                                   title=title, svgclass="qr-code", lineclass=None, omitsize=scalable)
