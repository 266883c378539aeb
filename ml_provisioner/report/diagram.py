"""The pipelines diagram as inline SVG: one row per pipeline, its source on the left, its stages
in the middle, and on the right the model registry it feeds or the EventBridge rule that starts
it. Every string is escaped; the layout is a fixed grid, so the output is deterministic."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ml_provisioner.report.model import PipelineView

WIDTH = 1000
TOP = 40
ROW = 164
BOX_HEIGHT = 128
SOURCE = (10, 240)  # x, width of each column; 100 px between columns for the arrows' labels
PIPELINE = (350, 320)
RIGHT = (770, 220)
CHARS_PER_LINE = {240: 36, 320: 48, 220: 32}  # ~6.3 px per character at 11 px

COLORS = {
    "source": ("#eef3f8", "#5b7a99"),
    "pipeline": ("#ffffff", "#1f3a5f"),
    "registry": ("#f3eefa", "#6b4fa0"),
    "rule": ("#fff4e6", "#b96a00"),
}


@dataclass(frozen=True)
class _Box:
    x: int
    y: int
    width: int
    height: int

    @property
    def left(self) -> tuple[int, int]:
        return self.x, self.y + self.height // 2

    @property
    def right(self) -> tuple[int, int]:
        return self.x + self.width, self.y + self.height // 2


def pipelines_svg(pipelines: list[PipelineView], registry: str | None) -> str:
    height = TOP + ROW * max(len(pipelines) - 1, 0) + BOX_HEIGHT + 10
    parts = [
        f'<svg id="pipeline-diagram" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="diagram-title" font-family="{_FONT}" font-size="11">',
        '<title id="diagram-title">Pipelines, their sources and triggers</title>',
        _DEFS,
        *(
            _column_heading(x, w, text)
            for (x, w), text in ((SOURCE, "Source"), (PIPELINE, "Pipeline"), (RIGHT, "Registry and triggers"))
        ),
    ]
    registry_box = None
    for row, pipeline in enumerate(pipelines):
        y = TOP + row * ROW
        source = _Box(SOURCE[0], y + 12, SOURCE[1], BOX_HEIGHT - 24)
        box = _Box(PIPELINE[0], y, PIPELINE[1], BOX_HEIGHT)
        parts += [_source(source, pipeline), _pipeline(box, pipeline)]
        polling = [t for t in pipeline.triggers if t.kind == "polling"]
        parts.append(_arrow(source.right, box.left, "polls for changes" if polling else "source"))
        right = _Box(RIGHT[0], y + 6, RIGHT[1], BOX_HEIGHT - 12)
        if registry and any(s.name == "Build" for s in pipeline.stages[1:]) and registry_box is None:
            registry_box = right
            parts += [
                _card(right, "registry", "SageMaker model registry", registry),
                _arrow(box.right, right.left, "registers versions"),
            ]
        for trigger in (t for t in pipeline.triggers if t.kind == "eventbridge"):
            parts += [
                _card(right, "rule", "EventBridge rule", trigger.name, trigger.detail),
                _arrow(right.left, box.right, "starts pipeline"),
            ]
            if registry_box:
                parts.append(
                    _arrow(
                        (registry_box.x + registry_box.width // 2, registry_box.y + registry_box.height),
                        (right.x + right.width // 2, right.y),
                        "approval event",
                        dashed=True,
                    )
                )
    parts.append("</svg>")
    return "\n".join(parts)


_FONT = "-apple-system, Segoe UI, Helvetica, Arial, sans-serif"
_DEFS = (
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
    'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#44546a"/></marker></defs>'
)


def _column_heading(x: int, width: int, text: str) -> str:
    return (
        f'<text x="{x + width // 2}" y="18" text-anchor="middle" font-size="12" font-weight="600" '
        f'fill="#44546a">{escape(text)}</text>'
    )


def _source(box: _Box, pipeline: PipelineView) -> str:
    stage = pipeline.source
    title = {"CodeCommit": "CodeCommit repository", "S3": "S3 source object"}.get(stage.provider, stage.provider)
    return _card(box, "source", title, stage.target)


def _pipeline(box: _Box, pipeline: PipelineView) -> str:
    fill, stroke = COLORS["pipeline"]
    lines = _wrap(pipeline.name, CHARS_PER_LINE[box.width])[:2]
    parts = [
        f'<g class="pipeline" data-pipeline="{escape(pipeline.name)}"><title>{escape(pipeline.name)}</title>',
        f'<rect x="{box.x}" y="{box.y}" width="{box.width}" height="{box.height}" rx="8" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.5"/>',
        f'<rect x="{box.x}" y="{box.y}" width="{box.width}" height="34" rx="8" fill="{stroke}"/>',
        f'<rect x="{box.x}" y="{box.y + 26}" width="{box.width}" height="8" fill="{stroke}"/>',
        *(
            f'<text x="{box.x + 10}" y="{box.y + 14 + 12 * i}" fill="#ffffff" font-weight="600">{escape(line)}</text>'
            for i, line in enumerate(lines)
        ),
    ]
    chip_width = (box.width - 20 - 24 * (len(pipeline.stages) - 1)) // max(len(pipeline.stages), 1)
    for i, stage in enumerate(pipeline.stages):
        x = box.x + 10 + i * (chip_width + 24)
        parts += [
            f'<rect x="{x}" y="{box.y + 46}" width="{chip_width}" height="30" rx="5" fill="#e8eef6" stroke="#9db0c8"/>',
            f'<text x="{x + chip_width // 2}" y="{box.y + 59}" text-anchor="middle" font-weight="600">'
            f"{escape(stage.name)}</text>",
            f'<text x="{x + chip_width // 2}" y="{box.y + 71}" text-anchor="middle" fill="#44546a">'
            f"{escape(stage.provider)}</text>",
        ]
        if i:
            parts.append(_arrow((x - 24, box.y + 61), (x, box.y + 61)))
    for stage in pipeline.stages[1:2]:
        lines = _wrap(f"{stage.name} runs {stage.provider} project {stage.target}", CHARS_PER_LINE[box.width])
        parts += [
            f'<text x="{box.x + 10}" y="{box.y + 96 + 13 * i}" fill="#44546a">{escape(line)}</text>'
            for i, line in enumerate(lines[:2])
        ]
    parts.append("</g>")
    return "\n".join(parts)


def _card(box: _Box, kind: str, title: str, name: str, detail: str = "") -> str:
    fill, stroke = COLORS[kind]
    width = CHARS_PER_LINE[box.width]
    lines = [(line, "#1d2733") for line in _wrap(name, width)] + [(line, "#5a6878") for line in _wrap(detail, width)]
    texts = "".join(
        f'<text x="{box.x + 10}" y="{box.y + 38 + 13 * i}" fill="{color}">{escape(line)}</text>'
        for i, (line, color) in enumerate(lines[:6])
    )
    return (
        f'<g class="{kind}"><title>{escape(name)}</title>'
        f'<rect x="{box.x}" y="{box.y}" width="{box.width}" height="{box.height}" rx="8" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.5"/>'
        f'<text x="{box.x + 10}" y="{box.y + 19}" font-weight="600" fill="{stroke}">{escape(title)}</text>'
        f"{texts}</g>"
    )


def _arrow(start: tuple[int, int], end: tuple[int, int], label: str = "", *, dashed: bool = False) -> str:
    (x1, y1), (x2, y2) = start, end
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    line = (
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#44546a" stroke-width="1.4"{dash} '
        f'marker-end="url(#arrow)"/>'
    )
    if not label:
        return line
    lx, ly = (x1 + x2) // 2, (y1 + y2) // 2 - 6
    anchor = "middle" if y1 == y2 else "start"
    offset = 0 if y1 == y2 else 8
    return (
        line + f'<text x="{lx + offset}" y="{ly}" text-anchor="{anchor}" font-size="10" fill="#44546a">'
        f"{escape(label)}</text>"
    )


def _wrap(text: str, width: int) -> list[str]:
    """Break text after "-" or "/" so that long AWS names stay inside their box."""
    lines, current = [], ""
    for piece in _pieces(text):
        if current and len(current) + len(piece) > width:
            lines.append(current)
            current = ""
        current += piece
    return [*lines, current] if current else lines


def _pieces(text: str) -> list[str]:
    pieces, current = [], ""
    for char in text:
        current += char
        if char in "-/ ":
            pieces.append(current)
            current = ""
    return [*pieces, current] if current else pieces
