"""Charts as inline SVG markup, drawn on the server.

The console's CSP allows no inline style and no script, so geometry and
colours are SVG presentation attributes (width=, fill=) and the rest comes
from classes in admin.css.
"""
from markupsafe import Markup, escape

BAR_FILL = "#2f6fb0"
PRINT_FILL = "#a9c4e0"  # light enough for dark value labels and outlines on grey paper
BAR_STROKE = "#1f2328"
LINE_FILL = "#c0392b"


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _fixed(value: float) -> str:
    """A bar's value as the table beside it prints it: 2 decimals for a float."""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def horizontal_bars(items: list[tuple[str, float]], title: str, unit: str = "", width: int = 640) -> Markup:
    """One labelled bar per item (label, value), longest bar = the largest value. Pass exact
    values: the bars are drawn to them and each is printed beside its bar (2 decimals, as the tables)."""
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
            f'<text class="chart-value" x="{label_w + bar + 6:.1f}" y="{y + 18}">{escape(_fixed(value))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(items: list[tuple[str, float]], title: str, width: int = 640, height: int = 220,
            label_every: int = 1, x_label: str = "", y_label: str = "", printable: bool = False,
            show_values: bool = False) -> Markup:
    """Vertical columns (a histogram or a time series); every label_every-th label is printed.

    printable: for paper in black and white, each column has a dark outline and its value
    written above it; x_label and y_label name the axes. show_values writes the values on
    screen too (for a few columns, such as the score distribution).
    """
    show_values = show_values or printable
    left, bottom = (56 if y_label else 40), (54 if x_label else 36)
    narrow = show_values and (width - left - 8) / max(1, len(items)) < 30  # value labels written upwards
    top = 44 if narrow else 26 if show_values else 12
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
        outline = f' stroke="{BAR_STROKE}" stroke-width="1"' if printable else ""
        parts.append(f'<rect class="chart-bar" x="{x + gap / 2:.1f}" y="{top + plot_h - h:.1f}" width="{max(step - gap, 0.5):.1f}" '
                     f'height="{h:.1f}" fill="{PRINT_FILL if printable else BAR_FILL}"{outline}>'
                     f'<title>{escape(label)}: {escape(_number(value))}</title></rect>')
        if show_values:
            parts.append(_value_label(x + step / 2, top + plot_h - h - 4, value, vertical=narrow))
        if i % label_every == 0:
            parts.append(f'<text class="chart-tick" x="{x + step / 2:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    if x_label:
        parts.append(f'<text class="chart-axis-label" x="{left + plot_w / 2:.1f}" y="{height - 6}" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        parts.append(f'<text class="chart-axis-label" x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                     f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _value_label(x: float, y: float, value: float, vertical: bool) -> str:
    """A column's value above it; written upwards when columns are too narrow for the digits."""
    text = escape(_number(value))
    if vertical:
        return (f'<text class="chart-value" x="{x:.1f}" y="{y:.1f}" text-anchor="start" '
                f'transform="rotate(-90 {x:.1f} {y:.1f})" dy="0.35em">{text}</text>')
    return f'<text class="chart-value" x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{text}</text>'
