"""Per-piece features compared between two sets, in the manner of Yang & Lerch.

Li-Chia Yang and Alexander Lerch, "On the evaluation of generative models in
music", Neural Computing and Applications 32 (2020), 4773-4784; their
toolbox is mgeval. The method, for each feature:

1. every piece gets a value: a number (pitch count, pitch range, average
   inter-onset interval ...), a histogram (12 pitch classes, 12 note-length
   classes) or a transition matrix (12 x 12), flattened to a vector;
2. absolute measures: the feature's mean and standard deviation in each set
   (for a vector, the mean and standard deviation of the distance between two
   pieces of the set);
3. intra-set distances: the Euclidean distance between each real piece and
   every other real piece (all ordered pairs, mgeval's leave-one-out);
   inter-set distances: between each generated piece and each real piece;
4. each set of distances is smoothed into a PDF by a Gaussian kernel density
   estimate with Scott's bandwidth (standard deviation x n^(-1/5), as
   scipy's `gaussian_kde`), both evaluated on one grid;
5. the overlapped area of the two PDFs (the integral of the smaller one:
   1 = the generated pieces lie among the real ones exactly as the real ones
   lie among themselves, 0 = disjoint) and the Kullback-Leibler divergence
   KL(intra-real || inter) (0 = the same; larger = further).

Where this differs from mgeval, on purpose: both PDFs of the KL divergence are
evaluated on the same grid (mgeval samples each on its own range, so the
two vectors it compares are not at the same points); the grid runs 5
bandwidths past the data on both sides, so each PDF integrates to 1 on it
and identical sets overlap by 1 (mgeval integrates between the smallest and
largest distance only); and the inter-set probability of a grid step is
floored at KL_FLOOR, so two disjoint sets read a large finite KL (at most
ln(1 / KL_FLOOR) = 23, less the entropy of the intra-set PDF on the grid:
15 to 20 in practice) instead of infinity. A feature whose distances do not vary (every real piece
has the same value, say no junk construct in any) has no bandwidth: it is
reported as not estimated, with the reason, and its means still say what
each set holds.

Which features a mode measures is a declaration on its `Measures`
(`piece_features`, a FeatureSet): `pitched()` gives the paper's melodic
features of any line of notes, a mode adds its own.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np

from .measures import PieceProfile

KL_FLOOR = 1e-10       # least probability of a grid step in the inter-set PDF (KL stays finite)
GRID = (1000, 50_000)  # points on the common grid: at least (mgeval's 1,000), at most
TAIL = 5.0             # bandwidths the grid runs past the data on each side
MAX_PIECES = 300       # pieces per set compared (the first ones); distances grow as the square
NOTE_LENGTHS = (       # mgeval's 12 note-length classes, in whole notes; a length goes to the nearest (log scale)
    Fraction(1), Fraction(1, 2), Fraction(1, 4), Fraction(1, 8), Fraction(1, 16),
    Fraction(3, 4), Fraction(3, 8), Fraction(3, 16), Fraction(3, 32),
    Fraction(1, 3), Fraction(1, 6), Fraction(1, 12),
)
_LOG_LENGTHS = np.log2([float(x) for x in NOTE_LENGTHS])


@dataclass(frozen=True)
class FeatureSet:
    """The features a mode measures: name -> label (in table order), and one piece's values."""

    labels: dict[str, str]
    values: Callable[[str, PieceProfile], dict]   # (text, profile) -> name -> number, array or None

    def __add__(self, other: "FeatureSet") -> "FeatureSet":
        first, second = self.values, other.values
        return FeatureSet(self.labels | other.labels, lambda text, p: first(text, p) | second(text, p))


@dataclass(frozen=True)
class Line:
    """A line of notes in playing order: pitches, lengths and onsets (in one time unit), one per note."""

    pitches: Sequence[int]
    lengths: Sequence[Fraction]
    onsets: Sequence[Fraction]


def melody(p: PieceProfile) -> Line:
    """A profile's melody: its pitches, lengths and onsets."""
    return Line(p.pitches, [_fraction(x) for x in p.lengths], p.onsets)


@functools.lru_cache(maxsize=4096)
def _fraction(text: str) -> Fraction:
    return Fraction(text)


def histogram(items: Sequence[int], size: int) -> np.ndarray | None:
    """Counts of 0..size-1 normalised to sum to 1 (None for no items)."""
    if not len(items):
        return None
    counts = np.bincount(np.asarray(items, dtype=int), minlength=size).astype(float)
    return counts / counts.sum()


def transitions(items: Sequence[int], size: int) -> np.ndarray | None:
    """The size x size matrix of consecutive pairs (row: from, column: to), normalised to sum to 1, flattened."""
    if len(items) < 2:
        return None
    pairs = np.asarray(items[:-1], dtype=int) * size + np.asarray(items[1:], dtype=int)
    counts = np.bincount(pairs, minlength=size * size).astype(float)
    return counts / counts.sum()


@functools.lru_cache(maxsize=4096)
def length_class(length: Fraction) -> int:
    """Index into NOTE_LENGTHS of the class nearest a length (log scale; longer than whole: whole;
    no length at all: the shortest)."""
    if length <= 0:
        return NOTE_LENGTHS.index(min(NOTE_LENGTHS))
    return int(np.argmin(np.abs(_LOG_LENGTHS - math.log2(min(float(length), 1.0)))))


def mean_ioi(onsets: Sequence[Fraction]) -> float | None:
    """The average time between consecutive onsets (a rest between two notes makes it longer)."""
    if len(onsets) < 2:
        return None
    return float((onsets[-1] - onsets[0]) / (len(onsets) - 1))


def pitched(line: Callable[[PieceProfile], Line] = melody, time_unit: str = "whole notes") -> FeatureSet:
    """The paper's features of a line of notes: pitch count, pitch-class histogram and transitions,
    pitch range, average interval, note count, note-length histogram and transitions, average IOI."""
    labels = {
        "pitch_count": "pitch count (distinct pitches)",
        "pitch_class_histogram": "pitch-class histogram (12 classes)",
        "pitch_class_transitions": "pitch-class transition matrix (12 x 12)",
        "pitch_range": "pitch range (semitones)",
        "pitch_interval": "average pitch interval (absolute, semitones)",
        "note_count": "note count",
        "note_length_histogram": "note-length histogram (12 classes)",
        "note_length_transitions": "note-length transition matrix (12 x 12)",
        "ioi": f"average inter-onset interval ({time_unit})",
    }

    def values(text: str, p: PieceProfile) -> dict:
        notes = line(p)
        pitches = list(notes.pitches)
        classes = [x % 12 for x in pitches]
        lengths = [length_class(x) for x in notes.lengths]
        steps = np.abs(np.diff(pitches)) if len(pitches) > 1 else None
        return {
            "pitch_count": float(len(set(pitches))) if pitches else None,
            "pitch_class_histogram": histogram(classes, 12),
            "pitch_class_transitions": transitions(classes, 12),
            "pitch_range": float(max(pitches) - min(pitches)) if pitches else None,
            "pitch_interval": float(steps.mean()) if steps is not None else None,
            "note_count": float(len(pitches)) if pitches else None,
            "note_length_histogram": histogram(lengths, len(NOTE_LENGTHS)),
            "note_length_transitions": transitions(lengths, len(NOTE_LENGTHS)),
            "ioi": mean_ioi(notes.onsets),
        }

    return FeatureSet(labels, values)


# -- distances and densities ---------------------------------------------------

def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances between the rows of a and of b."""
    out = np.empty((len(a), len(b)))
    step = max(1, 4_000_000 // max(1, len(b) * a.shape[1]))
    for i in range(0, len(a), step):
        diff = a[i:i + step, None, :] - b[None, :, :]
        out[i:i + step] = np.sqrt((diff * diff).sum(axis=-1))
    return out


def intra_distances(x: np.ndarray) -> np.ndarray:
    """Distances between each piece of a set and every other one: all n(n-1) ordered pairs."""
    d = _pairwise(x, x)
    return d[~np.eye(len(x), dtype=bool)]


def inter_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distances between each piece of one set and each piece of the other: all len(x) * len(y) pairs."""
    return _pairwise(x, y).ravel()


def scott_bandwidth(samples: np.ndarray) -> float:
    """Scott's rule for one dimension: the sample standard deviation times n^(-1/5) (0: no spread)."""
    samples = np.asarray(samples, dtype=float)
    if len(samples) < 2:
        return 0.0
    spread = float(np.std(samples, ddof=1))
    if spread <= 1e-12 * max(1.0, float(np.abs(samples).max())):
        return 0.0
    return spread * len(samples) ** -0.2


def kde(samples: np.ndarray, grid: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """The Gaussian kernel density estimate of `samples` on an even `grid` (Scott's bandwidth unless given).

    The samples are binned linearly onto the grid (each one's weight split between the two points around
    it, which keeps its mass and its mean) and the bins convolved with the kernel: a few milliseconds for
    100,000 distances, where the direct sum takes seconds. On a grid of steps at most an eighth of the
    bandwidth it is the direct sum to within a fraction of a percent (the tests hold it to 1 %).
    """
    samples = np.asarray(samples, dtype=float)
    h = scott_bandwidth(samples) if bandwidth is None else bandwidth
    if h <= 0:
        raise ValueError("no bandwidth: the samples do not vary")
    size, step = len(grid), grid[1] - grid[0]
    where = np.clip((samples - grid[0]) / step, 0, size - 1)
    left = np.minimum(where.astype(int), size - 2)
    right_share = where - left
    bins = (np.bincount(left, weights=1 - right_share, minlength=size)
            + np.bincount(left + 1, weights=right_share, minlength=size))
    reach = min(int(math.ceil(2 * TAIL * h / step)), 4 * size)   # the kernel out to 10 bandwidths
    offsets = np.arange(-reach, reach + 1) * step
    kernel = np.exp(-0.5 * (offsets / h) ** 2) / (h * math.sqrt(2 * math.pi))
    n = 1 << int(math.ceil(math.log2(size + len(kernel) - 1)))
    full = np.fft.irfft(np.fft.rfft(bins, n) * np.fft.rfft(kernel, n), n)
    return np.maximum(full[reach:reach + size], 0.0) / len(samples)


def common_grid(a: np.ndarray, b: np.ndarray, ha: float, hb: float) -> np.ndarray:
    """An even grid covering both samples and TAIL bandwidths beyond, with steps of at most an eighth of the
    narrower bandwidth (within GRID's bounds on the number of points)."""
    lo = min(a.min() - TAIL * ha, b.min() - TAIL * hb)
    hi = max(a.max() + TAIL * ha, b.max() + TAIL * hb)
    points = int(np.clip(math.ceil((hi - lo) / (min(ha, hb) / 8)) + 1, *GRID))
    return np.linspace(lo, hi, points)


def integral(values: np.ndarray, grid: np.ndarray) -> float:
    """The trapezoid rule on an even grid."""
    step = grid[1] - grid[0]
    return float((values.sum() - 0.5 * (values[0] + values[-1])) * step)


@dataclass(frozen=True)
class Comparison:
    """Two sets of distances compared: overlapped area and KL(intra || inter), or why they could not be."""

    overlap: float | None
    kl: float | None
    note: str | None = None


def compare_distances(intra: np.ndarray, inter: np.ndarray, real: str = "real", other: str = "generated") -> Comparison:
    """Overlapped area and KL divergence of the PDFs of intra-set and inter-set distances."""
    if len(intra) < 2:
        return Comparison(None, None, f"fewer than 2 {real} pieces have a value")
    if len(inter) < 1:
        return Comparison(None, None, f"no {other} piece has a value")
    ha, hb = scott_bandwidth(intra), scott_bandwidth(inter)
    if ha == 0:
        return Comparison(None, None, f"the {real} pieces do not vary in it (every distance between two is "
                                      f"{intra[0]:.3g}): no density to estimate")
    if hb == 0:
        return Comparison(None, None, f"every distance between a {other} and a {real} piece is {inter[0]:.3g}: "
                                      "no density to estimate")
    grid = common_grid(intra, inter, ha, hb)
    p, q = kde(intra, grid, ha), kde(inter, grid, hb)
    area = min(1.0, integral(np.minimum(p, q), grid))
    pp, qq = p / p.sum(), np.maximum(q / q.sum(), KL_FLOOR)
    keep = pp > 0
    kl = float(np.sum(pp[keep] * np.log(pp[keep] / qq[keep])))
    return Comparison(area, max(0.0, kl))


# -- sets of pieces ---------------------------------------------------------------

def piece_values(features: FeatureSet, texts: Sequence[str], profiles: Sequence[PieceProfile]) -> dict[str, list]:
    """name -> each piece's value (a flat float array, or None where the piece has none)."""
    out: dict[str, list] = {name: [] for name in features.labels}
    for text, p in zip(texts, profiles):
        values = features.values(text, p)
        for name in features.labels:
            v = values.get(name)
            out[name].append(None if v is None else np.atleast_1d(np.asarray(v, dtype=float)).ravel())
    return out


def _stack(values: Sequence) -> np.ndarray | None:
    kept = [v for v in values[:MAX_PIECES] if v is not None]
    return np.stack(kept) if kept else None


def _stats(x: np.ndarray) -> dict:
    return {"mean": float(x.mean()), "std": float(x.std())} if len(x) else {"mean": None, "std": None}


def _describe(x: np.ndarray | None, intra: np.ndarray) -> dict:
    """A set's absolute measure: a number's mean and std over the pieces, a vector's spread (distance between two)."""
    if x is None:
        return {"pieces": 0}
    if x.shape[1] == 1:
        return {"pieces": len(x)} | _stats(x[:, 0])
    return {"pieces": len(x), "distance": _stats(intra)}


def compare_feature(real: Sequence, other: Sequence, names: tuple[str, str] = ("real", "generated")) -> dict:
    """One feature of two sets (lists of per-piece values, None for none): the row of the report."""
    x, y = _stack(real), _stack(other)
    intra_x = intra_distances(x) if x is not None else np.zeros(0)
    intra_y = intra_distances(y) if y is not None else np.zeros(0)
    inter = inter_distances(x, y) if x is not None and y is not None else np.zeros(0)
    result = compare_distances(intra_x, inter, *names)
    size = x.shape[1] if x is not None else (y.shape[1] if y is not None else 0)
    return {
        "size": size,
        "real": _describe(x, intra_x), "other": _describe(y, intra_y),
        "intra": _stats(intra_x), "inter": _stats(inter),
        "overlap": result.overlap, "kl": result.kl, "note": result.note,
    }


def compare_sets(features: FeatureSet, real: dict[str, list], other: dict[str, list],
                 names: tuple[str, str] = ("real", "generated")) -> dict[str, dict]:
    """Every feature of `features` compared: name -> row (label, absolute measures, overlapped area, KL)."""
    return {name: {"label": label} | compare_feature(real[name], other[name], names)
            for name, label in features.labels.items()}


def evaluate_sets(features: FeatureSet, real: tuple[list[str], list[PieceProfile]],
                  generated: tuple[list[str], list[PieceProfile]]) -> dict:
    """The report's part: generated pieces against real held-out ones, and (the reference a perfect model
    would score) alternate real pieces against the others."""
    r, g = piece_values(features, *real), piece_values(features, *generated)
    first = {name: v[0::2] for name, v in r.items()}
    second = {name: v[1::2] for name, v in r.items()}
    count = lambda values: min(len(values), MAX_PIECES)  # noqa: E731
    some = next(iter(features.labels))
    return {
        "labels": dict(features.labels),
        "pieces": {"generated": count(g[some]), "real": count(r[some]),
                   "real_halves": [count(first[some]), count(second[some])]},
        "max_pieces": MAX_PIECES,
        "generated": compare_sets(features, r, g),
        "real_halves": compare_sets(features, first, second, ("real", "other real")),
    }
