"""The written agreement rendered as a printable page (Jinja2) and a PDF (ReportLab).

The PDF uses ReportLab's built-in CID font STSong-Light, which covers Chinese without shipping a font file.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import Environment, FileSystemLoader, select_autoescape
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

FONT = "STSong-Light"
SIDES = {
    "applicant": "申请人 Applicant",
    "respondent": "被申请人 Respondent",
    "third_party": "第三人 Third party",
}
METHODS = {"signature": "签名 signed", "oral": "口头同意 oral acceptance"}


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
    )


@cache
def _font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def document_model(agreement: dict[str, Any], signatures: list[dict[str, Any]]) -> dict[str, Any]:
    """What both renderings show: the agreed content, and who accepted it and how."""
    content = agreement["content"]
    names = {party["id"]: party["name"] for party in content["parties"]}
    terms = [
        {
            "number": index + 1,
            "text": term["text"],
            "obligor": names.get(term.get("obligor_party_id")),
            "due_on": term.get("due_on"),
        }
        for index, term in enumerate(content["terms"])
    ]
    signed = [
        {"name": names.get(s["party_id"], f"#{s['party_id']}"), "method": METHODS[s["method"]], "at": s["at"]}
        for s in signatures
    ]
    return {
        "agreement": agreement,
        "content": content,
        "parties": [{**party, "side_label": SIDES[party["side"]]} for party in content["parties"]],
        "terms": terms,
        "signatures": signed,
    }


def render_page(model: dict[str, Any]) -> str:
    return _environment().get_template("agreement.html").render(**model)


def render_pdf(model: dict[str, Any]) -> bytes:
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1, spaceAfter=8)
    heading = ParagraphStyle("heading", fontName=font, fontSize=12, leading=18, spaceBefore=8)
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK")

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)

    agreement, content = model["agreement"], model["content"]
    story: list[Any] = [
        para("人民调解协议书 People's Mediation Agreement", title),
        para(f"案件编号 Case: {content['case']['tracking_no']}    协议 No. {agreement['number']}"),
        para("当事人 Parties", heading),
        *[para(f"{p['side_label']}: {p['name']} ({p['relationship']})") for p in model["parties"]],
        para("纠纷事实 Facts", heading),
        para(content["facts"]),
        para("争议事项 Issues", heading),
        para(content["issues"]),
        para("各方责任 Responsibilities", heading),
        para(content["responsibilities"]),
        para("协议内容 Agreed terms", heading),
    ]
    for term in model["terms"]:
        extra = []
        if term["obligor"]:
            extra.append(f"履行人 by {term['obligor']}")
        if term["due_on"]:
            extra.append(f"期限 by {term['due_on']}")
        suffix = f" ({'; '.join(extra)})" if extra else ""
        story.append(para(f"{term['number']}. {term['text']}{suffix}"))
    story += [
        para("履行方式与期限 Manner and time limit of performance", heading),
        para(f"{content['performance_manner']} — {content['performance_deadline']}"),
        para("签署 Signatures", heading),
        *[para(f"{s['name']}: {s['method']} {s['at']:%Y-%m-%d %H:%M} UTC") for s in model["signatures"]],
        Spacer(1, 6 * mm),
        para(f"状态 Status: {agreement['status']}    SHA-256: {agreement['content_hash']}"),
        para(
            "本协议自各方当事人签名之日起生效；双方可自生效之日起三十日内共同向人民法院申请司法确认。"
            " The parties may apply together to the people's court for judicial confirmation within"
            " 30 days from the day this agreement takes effect."
        ),
    ]
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Mediation agreement {content['case']['tracking_no']}",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
    )
    document.build(story)
    return buffer.getvalue()
