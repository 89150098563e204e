"""Ink: pen trajectories as strokes of points, and the offset form the networks read and write.

Coordinates are in the screen convention (x right, y down), as in IAM-OnDB and SVG. The network
form of a line is a sequence of offsets (dx, dy, end_of_stroke) (Graves 2013, section 4): row t
moves the pen from point t - 1 to point t, and end_of_stroke = 1 marks the last point of a stroke
(the pen lifts after it).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from synth.errors import InputError


@dataclasses.dataclass
class Ink:
    """One line of handwriting: strokes (each (N, 2) float array of x, y) and what it says."""

    strokes: list[np.ndarray]
    text: str = ""
    writer: str | None = None
    at_model_scale: bool = False  # already in the scale and point spacing a model was trained at

    def __post_init__(self):
        self.strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in self.strokes]
        self.strokes = [s for s in self.strokes if len(s) > 0]

    @property
    def n_points(self) -> int:
        return sum(len(s) for s in self.strokes)

    def points(self) -> np.ndarray:
        return np.concatenate(self.strokes) if self.strokes else np.zeros((0, 2))  # (N, 2)

    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max)."""
        p = self.points()
        if len(p) == 0:
            return (0.0, 0.0, 0.0, 0.0)
        return (float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max()))

    def transformed(self, scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> Ink:
        return Ink([s * scale + np.asarray(shift) for s in self.strokes], self.text, self.writer,
                   self.at_model_scale and scale == 1.0)

    def to_offsets(self) -> np.ndarray:
        """(N - 1, 3) float32 rows (dx, dy, end_of_stroke) for points 1 .. N - 1: the first point is
        the origin the pen starts from (so no row is the same for every line)."""
        if self.n_points < 2:
            raise InputError(f"a line needs at least two pen points, this one has {self.n_points}")
        points = self.points()
        ends = np.zeros(len(points), dtype=np.float32)
        ends[np.cumsum([len(s) for s in self.strokes]) - 1] = 1.0
        offsets = np.zeros((len(points) - 1, 3), dtype=np.float32)
        offsets[:, :2] = np.diff(points, axis=0)
        offsets[:, 2] = ends[1:]
        return offsets

    @classmethod
    def from_offsets(cls, offsets: np.ndarray, text: str = "", origin: tuple[float, float] = (0.0, 0.0),
                     drop_unfinished: bool = False, at_model_scale: bool = False,
                     origin_is_lifted: bool = False) -> Ink:
        """Inverse of ``to_offsets``: rows back to strokes, the pen starting at ``origin``.
        ``drop_unfinished``: drop a last stroke that has no end-of-stroke mark and one point
        (a pen move that a sampler made before it stopped). ``origin_is_lifted``: the origin is
        where an earlier stroke ended (the offsets continue a primer), so it is not drawn."""
        offsets = np.asarray(offsets, dtype=np.float64)
        if offsets.ndim != 2 or offsets.shape[1] != 3:
            raise InputError(f"offsets must have shape (N, 3) = dx, dy, end_of_stroke; got {offsets.shape}")
        points = np.concatenate([np.zeros((1, 2)), np.cumsum(offsets[:, :2], axis=0)]) + np.asarray(origin)
        ends = np.flatnonzero(offsets[:, 2] > 0.5) + 2
        strokes = [s for s in np.split(points, ends) if len(s)]
        if origin_is_lifted and strokes:
            # The origin ended a stroke drawn before these offsets (a primer's last point): not ours.
            strokes[0] = strokes[0][1:]
            strokes = [s for s in strokes if len(s)]
        if drop_unfinished and strokes and len(strokes[-1]) == 1 and len(strokes) > 1:
            strokes = strokes[:-1]
        return cls(strokes, text, at_model_scale=at_model_scale)


def resample_stroke(points: np.ndarray, spacing: np.ndarray | float) -> np.ndarray:
    """Points (N, 2) re-spaced along the path's arc length.

    ``spacing`` is the distance between successive samples: a number, or an array giving the
    spacing as a function of arc length sampled at the input points (so the pen can speed up and
    slow down along the stroke). The first and last points are kept.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return points.copy()
    segment = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(segment)])  # (N,)
    total = arc[-1]
    if total <= 1e-9:
        return points[:1].copy()
    spacing_at = np.broadcast_to(np.asarray(spacing, dtype=np.float64), arc.shape)
    if np.ndim(spacing) == 0:
        # One spacing: the positions the loop below would step to, at once (a corpus of millions of points).
        step = max(1e-3, float(spacing))
        positions = list(step * np.arange(int(np.ceil(total / step))))
    else:
        positions, s = [0.0], 0.0
        while True:
            s += max(1e-3, float(np.interp(s, arc, spacing_at)))
            if s >= total:
                break
            positions.append(s)
    # End exactly at the last point; drop a sample that would sit too close to it.
    if total - positions[-1] < 0.3 * float(spacing_at[-1]) and len(positions) > 1:
        positions.pop()
    positions.append(total)
    positions = np.asarray(positions)
    return np.stack([np.interp(positions, arc, points[:, 0]), np.interp(positions, arc, points[:, 1])], axis=1)


def clean_strokes(strokes: list[np.ndarray], *, outlier_factor: float = 8.0) -> list[np.ndarray]:
    """Drop repeated points, and split strokes at outlier steps (a jump many times longer than the
    line's median step: a digitiser glitch or a lift the device missed)."""
    kept = []
    steps = np.concatenate([np.linalg.norm(np.diff(s, axis=0), axis=1) for s in strokes if len(s) > 1] or [np.zeros(0)])
    moving = steps[steps > 0]
    limit = outlier_factor * float(np.median(moving)) if len(moving) else np.inf
    for stroke in strokes:
        stroke = np.asarray(stroke, dtype=np.float64)
        if len(stroke) > 1:
            keep = np.concatenate([[True], np.any(np.diff(stroke, axis=0) != 0, axis=1)])
            stroke = stroke[keep]
        if len(stroke) == 0:
            continue
        jumps = np.flatnonzero(np.linalg.norm(np.diff(stroke, axis=0), axis=1) > limit) + 1
        kept.extend(piece for piece in np.split(stroke, jumps) if len(piece))
    return kept


#: Most points a line may have after resampling (a line of writing has a few hundred).
MAX_RESAMPLED_POINTS = 20_000


def baseline_angle(points: np.ndarray) -> float:
    """Angle (radians) of the least-squares line through a line's points: how far its writer let
    the baseline climb or fall (sjvasquez/handwriting-synthesis corrects the same slope)."""
    x, y = points[:, 0] - points[:, 0].mean(), points[:, 1] - points[:, 1].mean()
    spread = float((x * x).sum())
    return float(np.arctan(float((x * y).sum()) / spread)) if spread > 1e-12 else 0.0


def normalise_ink(ink: Ink, *, target_height: float, spacing: float, align: bool = False) -> Ink:
    """Clean a recorded line, turn it level (``align``: rotate its baseline's slope away), scale it
    so its height (between the 5th and 95th percentile of y, robust to stray dots) is
    ``target_height``, put its top-left at the origin and resample every stroke at ``spacing``."""
    strokes = clean_strokes(ink.strokes)
    if not strokes:
        raise InputError("the ink holds no points")
    points = np.concatenate(strokes)
    if align:
        angle = baseline_angle(points)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])  # row @ R turns by -angle
        strokes = [s @ rotation for s in strokes]
        points = np.concatenate(strokes)
    low, high = np.percentile(points[:, 1], [5, 95])
    height = max(float(high - low), 1e-6)
    scale = target_height / height
    path = sum(float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) for s in strokes) * scale
    if path / spacing > MAX_RESAMPLED_POINTS:
        # A flat scribble (a straight line, a dot row) scaled to a line's height: not writing.
        raise InputError(f"the ink is almost flat (its pen path is {path / target_height:.0f} times its height); "
                         "write letters with ups and downs, not a line")
    origin = np.array([points[:, 0].min(), low])
    strokes = [resample_stroke((s - origin) * scale, spacing) for s in strokes]
    return Ink(strokes, ink.text, ink.writer)
