"""Charts as inline SVG markup, drawn on the server.

The console's CSP allows no inline style and no script, so geometry and
colours are SVG presentation attributes (width=, fill=) and the rest comes
from classes in admin.css.
"""
from markupsafe import Markup, escape

BAR_FILL = "#2f6fb0"
LINE_FILL = "#c0392b"


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def horizontal_bars(items: list[tuple[str, float]], title: str, unit: str = "", width: int = 640) -> Markup:
    """One labelled bar per item (label, value), longest bar = the largest value."""
    row, label_w, value_w = 28, 110, 70
    height = max(1, len(items)) * row + 10
    peak = max((value for _, value in items), default=0) or 1
    bar_space = width - label_w - value_w
    parts = [f'<svg class="chart chart-bars" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        bar = bar_space * value / peak
        parts.append(
            f'<text class="chart-label" x="{label_w - 8}" y="{y + 18}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="chart-bar" x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="{row - 8}" fill="{BAR_FILL}"/>'
            f'<text class="chart-value" x="{label_w + bar + 6:.1f}" y="{y + 18}">{escape(_number(value))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(items: list[tuple[str, float]], title: str, width: int = 640, height: int = 220,
            label_every: int = 1) -> Markup:
    """Vertical columns (a histogram or a time series); every label_every-th label is printed."""
    left, bottom, top = 40, 36, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((value for _, value in items), default=0) or 1
    step = plot_w / max(1, len(items))
    gap = 2 if step > 6 else 0
    parts = [f'<svg class="chart chart-columns" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<line class="chart-axis" x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#888"/>',
             f'<text class="chart-tick" x="{left - 6}" y="{top + 10}" text-anchor="end">{escape(_number(peak))}</text>',
             f'<text class="chart-tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>']
    for i, (label, value) in enumerate(items):
        h = plot_h * value / peak
        x = left + i * step
        parts.append(f'<rect class="chart-bar" x="{x + gap / 2:.1f}" y="{top + plot_h - h:.1f}" width="{max(step - gap, 0.5):.1f}" '
                     f'height="{h:.1f}" fill="{BAR_FILL}"><title>{escape(label)}: {escape(_number(value))}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text class="chart-tick" x="{x + step / 2:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
