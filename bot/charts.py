"""Charts for coordinators, as PNG bytes (matplotlib, headless). No telegram."""

from __future__ import annotations

import io

from typing import Any

from bot.review import Stats


def _pyplot() -> Any:
    """matplotlib's pyplot on the headless backend, imported only when a chart is drawn."""
    import matplotlib

    matplotlib.use("Agg")  # no screen on a server
    import matplotlib.pyplot as plt

    return plt


def _png(plt: Any, fig: Any) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def stats_png(stats: Stats, titles: dict[str, str]) -> bytes:
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), gridspec_kw={"height_ratios": [3, 2]})
    labels = [d.strftime("%d/%m") for d in stats.days]
    x = range(len(stats.days))
    top.bar(x, stats.per_day, color="#c9d6e3", label="Spørgsmål")
    top.bar(x, stats.answered_per_day, color="#2f6690", label="Besvaret")
    step = max(1, len(labels) // 10)
    top.set_xticks(list(x)[::step], labels[::step])
    top.set_title(f"Spørgsmål pr. dag – {stats.answered_share:.0%} besvaret")
    top.legend(loc="upper left")
    top.spines[["top", "right"]].set_visible(False)

    names = [titles.get(e, e)[:45] for e, _ in stats.top_entries][::-1]
    counts = [n for _, n in stats.top_entries][::-1]
    bottom.barh(range(len(names)), counts, color="#2f6690")
    bottom.set_yticks(range(len(names)), names, fontsize=8)
    for i, (entry, _) in enumerate(stats.top_entries[::-1]):
        up, down = stats.votes.get(entry, (0, 0))
        bottom.annotate(f"  +{up} / -{down}", (counts[i], i), va="center", fontsize=8)
    bottom.set_title("Mest brugte svar (+ / - feedback)")
    bottom.spines[["top", "right"]].set_visible(False)
    return _png(plt, fig)


def quiz_png(topics: list[tuple[str, int, int, float]]) -> bytes:
    """Share of right answers per topic (title, volunteers, answers, share right)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, max(3, 0.5 * len(topics) + 1)))
    names = [t[0][:45] for t in topics]
    shares = [t[3] * 100 for t in topics]
    ax.barh(range(len(topics)), shares, color="#2f6690")
    ax.set_yticks(range(len(topics)), names, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% rigtige svar")
    for i, t in enumerate(topics):
        ax.annotate(f"  {t[2]} svar, {t[1]} frivillige", (shares[i], i), va="center", fontsize=8)
    ax.set_title("Quiz: rigtige svar pr. emne")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(plt, fig)
