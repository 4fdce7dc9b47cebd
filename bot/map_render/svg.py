"""The map's picture as SVG, written by hand with a small deterministic layout.

A box per system (its record types inside, the canonical IDs it mints), placed on a ring in
map order; an arrow per one-way flow, a double-headed arrow per two-way field pair, a dashed
arrow per hand copy of today; each coloured by its phase's state. The same map always gives
the same bytes, so a picture can be kept in version control beside its map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from sync_core.map.document import Arrow, ArrowKind, MapDocument, SystemDoc, View
from sync_core.map.model import PhaseState

STATE_COLOUR = {
    PhaseState.LIVE: "#2a9d8f",
    PhaseState.PARALLEL: "#e08e0b",
    PhaseState.PLANNED: "#8d99ae",
}
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
CHAR_WIDTH = 7.2  # average width of a 12px character, for sizing boxes and label plates
LINE = 16
PAD = 10
LANE = 22  # distance between arrows joining the same two boxes
LEGEND_HEIGHT = 120
LEGEND_WIDTH = 760


@dataclass(frozen=True)
class _Box:
    system: SystemDoc
    cx: float
    cy: float
    width: float
    height: float

    def edge_towards(self, x: float, y: float) -> tuple[float, float]:
        """Where the line from the box's centre to (x, y) leaves the box."""
        dx, dy = x - self.cx, y - self.cy
        if dx == 0 and dy == 0:
            return self.cx, self.cy
        scale = min(
            (self.width / 2) / abs(dx) if dx else math.inf,
            (self.height / 2) / abs(dy) if dy else math.inf,
        )
        return self.cx + dx * scale, self.cy + dy * scale


def svg_picture(document: MapDocument, view: View = View.BOTH) -> str:
    views = [View.CURRENT, View.TARGET] if view is View.BOTH else [view]
    panels = [_panel(document, shown) for shown in views]
    width = max(sum(w for w, _h, _body in panels), LEGEND_WIDTH)
    height = max(h for _w, h, _body in panels) + LEGEND_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={quoteattr(FONT)} font-size="12">',
        f"<title>{escape(document.name)}</title>",
        _markers(),
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
    ]
    offset = 0.0
    for panel_width, _h, body in panels:
        parts.append(f'<g transform="translate({offset:.0f},0)">{body}</g>')
        offset += panel_width
    parts.append(_legend(height - LEGEND_HEIGHT + 10))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(document: MapDocument, view: View) -> tuple[float, float, str]:
    sizes = [_box_size(system) for system in document.systems]
    widest = max((w for w, _h in sizes), default=120.0)
    count = len(document.systems)
    radius = 0.0 if count == 1 else max(170.0, widest * 0.55 * count / math.pi + 60)
    boxes: dict[str, _Box] = {}
    for index, (system, (w, h)) in enumerate(zip(document.systems, sizes, strict=True)):
        angle = -math.pi / 2 + 2 * math.pi * index / max(count, 1)
        boxes[system.name] = _Box(system, radius * math.cos(angle), radius * math.sin(angle), w, h)
    drawn = [_arrow(arrow, boxes, lane) for arrow, lane in _lanes(document.arrows_of(view))]
    labels = _place([label for _svg, label in drawn], list(boxes.values()))
    # the drawing's extent, so that the panel fits it with a margin
    rects = [(b.cx - b.width / 2, b.cy - b.height / 2, b.width, b.height) for b in boxes.values()]
    rects += [label.rect for label in labels]
    left = min((r[0] for r in rects), default=0.0)
    top = min((r[1] for r in rects), default=0.0)
    right = max((r[0] + r[2] for r in rects), default=0.0)
    bottom = max((r[1] + r[3] for r in rects), default=0.0)
    title = "Current state (today)" if view is View.CURRENT else "Target state"
    heading = f"{document.name}: {title}"
    parts = [
        f'<text x="20" y="28" font-size="16" font-weight="bold">{escape(heading)}</text>',
    ]
    warning = document.two_way_warning(view)
    if warning:
        parts.append(
            f'<text x="20" y="50" fill="#c0392b" font-weight="bold">⚠ {escape(warning)}</text>'
        )
    if not drawn:
        parts.append('<text x="20" y="50" fill="#555">no flows or hand copies in this state</text>')
    parts.append(f'<g transform="translate({30 - left:.1f},{80 - top:.1f})">')
    parts += [svg for svg, _label in drawn]
    parts += [_box(box) for box in boxes.values()]
    parts += [label.svg() for label in labels]
    parts.append("</g>")
    texts = [len(heading) * CHAR_WIDTH * 1.3, len(warning or "") * CHAR_WIDTH * 1.1]
    width = max(right - left + 60, *(t + 40 for t in texts))
    return width, bottom - top + 110, "\n".join(parts)


def _box_size(system: SystemDoc) -> tuple[float, float]:
    lines = _box_lines(system)
    longest = max(len(text) for text, _style in lines)
    return longest * CHAR_WIDTH + 2 * PAD + 8, len(lines) * LINE + 2 * PAD


def _box_lines(system: SystemDoc) -> list[tuple[str, str]]:
    lines = [(system.name, "name"), (f"({system.connector})", "dim")]
    lines += [(f"▪ {record}", "record") for record in system.record_types]
    lines += [(f"mints {mint}", "mint") for mint in system.mints]
    return lines


def _box(box: _Box) -> str:
    left, top = box.cx - box.width / 2, box.cy - box.height / 2
    parts = [
        f'<g class="system" id={quoteattr("system-" + box.system.name)}>',
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
        'rx="8" fill="#f1faee" stroke="#1d3557" stroke-width="1.5"/>',
    ]
    styles = {
        "name": ' font-weight="bold" font-size="14" fill="#1d3557"',
        "dim": ' fill="#555"',
        "record": "",
        "mint": ' fill="#6a1b9a" font-weight="bold"',
    }
    for index, (text, style) in enumerate(_box_lines(box.system)):
        y = top + PAD + LINE * (index + 1) - 4
        parts.append(f'<text x="{left + PAD:.1f}" y="{y:.1f}"{styles[style]}>{escape(text)}</text>')
    parts.append("</g>")
    return "\n".join(parts)


def _lanes(arrows: list[Arrow]) -> list[tuple[Arrow, float]]:
    """Each arrow with its sideways offset, so arrows between the same boxes do not overlap."""
    sizes: dict[frozenset[str], int] = {}
    for arrow in arrows:
        key = frozenset((arrow.source.system, arrow.target.system))
        sizes[key] = sizes.get(key, 0) + 1
    seen: dict[frozenset[str], int] = {}
    placed = []
    for arrow in arrows:
        key = frozenset((arrow.source.system, arrow.target.system))
        index = seen.get(key, 0)
        seen[key] = index + 1
        placed.append((arrow, (index - (sizes[key] - 1) / 2) * LANE))
    return placed


def _arrow(arrow: Arrow, boxes: dict[str, _Box], lane: float) -> tuple[str, _Label]:
    source, target = boxes[arrow.source.system], boxes[arrow.target.system]
    colour = STATE_COLOUR[arrow.state]
    label = arrow.label + (f" · stamps {arrow.carries_id}" if arrow.carries_id else "")
    classes = f"arrow {arrow.kind.value} {arrow.state.value}"
    head = f"head-{arrow.state.value}"
    if source is target:
        return _self_arrow(classes, head, colour, source, lane), _Label(
            label, source.cx + lane, source.cy - source.height / 2 - 42, colour
        )
    # a lane's sideways offset is measured the same way whichever end the arrow starts from
    first, second = sorted((source, target), key=lambda b: b.system.name)
    dx, dy = second.cx - first.cx, second.cy - first.cy
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length * lane, dx / length * lane
    x1, y1 = source.edge_towards(target.cx + nx, target.cy + ny)
    x2, y2 = target.edge_towards(source.cx + nx, source.cy + ny)
    x1, y1, x2, y2 = x1 + nx, y1 + ny, x2 + nx, y2 + ny
    width = 3.5 if arrow.carries_id else 1.8
    dash = ' stroke-dasharray="7 5"' if arrow.kind is ArrowKind.MANUAL else ""
    start = f' marker-start="url(#{head}-start)"' if arrow.kind is ArrowKind.TWO_WAY else ""
    svg = (
        f'<line class="{classes}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{colour}" stroke-width="{width}"{dash}{start} marker-end="url(#{head})"/>'
    )
    return svg, _Label(label, (x1 + x2) / 2, (y1 + y2) / 2, colour)


def _self_arrow(classes: str, head: str, colour: str, box: _Box, lane: float) -> str:
    """A flow between two record types of one system: a loop above the box."""
    top = box.cy - box.height / 2
    x = box.cx + lane
    path = f"M{x - 20:.1f},{top:.1f} C{x - 20:.1f},{top - 40:.1f} {x + 20:.1f},{top - 40:.1f} "
    path += f"{x + 20:.1f},{top:.1f}"
    return (
        f'<path class="{classes}" d="{path}" fill="none" stroke="{colour}" stroke-width="1.8" '
        f'marker-end="url(#{head})"/>'
    )


@dataclass
class _Label:
    text: str
    x: float  # centre
    y: float  # baseline
    colour: str

    @property
    def rect(self) -> tuple[float, float, float, float]:
        width = len(self.text) * CHAR_WIDTH * 0.92 + 8
        return self.x - width / 2, self.y - 11, width, 15

    def svg(self) -> str:
        left, top, width, height = self.rect
        return (
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height}" rx="3" '
            'fill="white" fill-opacity="0.85"/>'
            f'<text x="{self.x:.1f}" y="{self.y:.1f}" text-anchor="middle" font-size="11" '
            f'fill="{self.colour}">{escape(self.text)}</text>'
        )


def _place(labels: list[_Label], boxes: list[_Box]) -> list[_Label]:
    """Move each label down (then up) until it covers no box and no label placed before it."""
    taken = [(b.cx - b.width / 2, b.cy - b.height / 2, b.width, b.height) for b in boxes]
    for label in labels:
        home = label.y
        for step in range(40):
            shift = (step + 1) // 2 * 16 * (1 if step % 2 else -1)
            label.y = home + shift
            if not any(_overlap(label.rect, other) for other in taken):
                break
        else:
            label.y = home
        taken.append(label.rect)
    return labels


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _markers() -> str:
    # one pair of heads per colour: SVG 1.1 markers cannot take the line's colour
    colours = {"dark": "#333", **{state.value: c for state, c in STATE_COLOUR.items()}}
    parts = ["<defs>"]
    for name, colour in colours.items():
        for suffix, orient in (("", "auto"), ("-start", "auto-start-reverse")):
            parts.append(
                f'<marker id="head-{name}{suffix}" viewBox="0 0 10 10" refX="9" refY="5" '
                f'markerWidth="11" markerHeight="11" markerUnits="userSpaceOnUse" '
                f'orient="{orient}"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            )
    parts.append("</defs>")
    return "".join(parts)


def _legend(top: float) -> str:
    parts = [f'<g class="legend"><text x="20" y="{top + 12:.0f}" font-weight="bold">Legend</text>']
    y = top + 32
    x = 20.0
    for state, colour in STATE_COLOUR.items():
        parts.append(
            f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="14" height="10" fill="{colour}"/>'
            f'<text x="{x + 20:.0f}" y="{y:.0f}">phase {state.value}</text>'
        )
        x += 130
    samples = [
        ("one-way flow", "", 1.8, ""),
        ("two-way field", "", 1.8, ' marker-start="url(#head-dark-start)"'),
        ("copied by hand today", ' stroke-dasharray="7 5"', 1.8, ""),
        ("carries the canonical ID", "", 3.5, ""),
    ]
    y += 26
    x = 20.0
    for text, dash, width, start in samples:
        parts.append(
            f'<g><line x1="{x:.0f}" y1="{y - 4:.0f}" x2="{x + 44:.0f}" '
            f'y2="{y - 4:.0f}" stroke="#333" stroke-width="{width}"{dash}{start} '
            f'marker-end="url(#head-dark)"/></g><text x="{x + 52:.0f}" y="{y:.0f}">{text}</text>'
        )
        x += 60 + len(text) * CHAR_WIDTH
    parts.append(
        f'<text x="20" y="{y + 26:.0f}" fill="#6a1b9a">"mints" in a box: the system whose '
        "record creates the canonical ID</text></g>"
    )
    return "\n".join(parts)
