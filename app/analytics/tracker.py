"""Multi-object tracker: ByteTrack's two-stage association on a time-based Kalman filter, with OC-SORT's
observation-centric re-update after a gap.

Per frame (``update(detections, pts_s, motion, features)``):
1. every track is predicted to the frame's timestamp (seconds, from the source: dropped frames and any frame
   rate are handled by the real time step), and carried through the camera's own motion if given;
2. a box drawn around two tracked objects at once (it covers most of both and is larger than either) is a
   merge: it is neither matched nor starts a track, so neither object's path jumps to the other;
3. detections at or above ``high_score`` are matched to the confirmed and lost tracks by IoU (Hungarian), plus
   the direction term and, when the caller gives appearance descriptors (appearance.py), their similarity to
   the track's — two people crossing have overlapping boxes but different clothes;
4. detections between ``low_score`` and ``high_score`` are matched to the confirmed tracks still unmatched —
   an occluded person's weak box keeps its track alive instead of starting a new one;
5. remaining strong detections are matched to tentative tracks; a tentative track missed once is dropped;
6. strong detections still unmatched start tentative tracks; ``min_hits`` matches confirm one.
A track lost for longer than ``lost_s`` seconds ends. When a lost track is found again, its filter is re-run
along a straight path between the two observations (OC-SORT's ORU), so the error it built up while
coasting does not bend its velocity.

Classes: association never joins different classes, except within a group (vehicles: car, truck, bus,
motorcycle) where the detector's label flickers; a track's label is the score-weighted vote of its history
and its score the median of its detection scores (a one-frame phantom never becomes an object).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from detector.detections import Detections

from . import appearance, kalman
from .camera_motion import warp_points
from .geometry import iou_matrix, merged_boxes

VEHICLES = ("car", "truck", "bus", "motorcycle")
PATH_KEEP = 600  # anchor path points kept per track (5 minutes at path_every_s 0.5)


@dataclass(frozen=True)
class TrackerConfig:
    high_score: float = 0.5  # strong detections: first association, may start tracks
    low_score: float = 0.1  # weak detections: only keep confirmed tracks alive
    new_track_score: float = 0.6  # a track starts from a detection at least this strong
    match_iou: float = 0.2  # least IoU to match a strong detection (first stage)
    low_match_iou: float = 0.5  # least IoU to match a weak detection (second stage)
    tentative_match_iou: float = 0.3
    min_hits: int = 3  # matches that confirm a track
    lost_s: float = 1.5  # a confirmed track unmatched this long ends
    min_track_score: float = 0.0  # tracks whose median score is lower are kept but not reported
    groups: tuple[tuple[str, ...], ...] = (VEHICLES,)  # classes that may continue one track
    stationary_s: float = 4.0  # a box whose centre moves less than stationary_move heights over this long...
    stationary_move: float = 0.15  # ...is stationary (a parked car)
    path_every_s: float = 0.5  # the anchor path keeps one point per this many seconds
    score_history: int = 64
    direction_weight: float = 0.2  # OC-SORT's velocity-direction consistency, added to IoU in the first stage
    direction_span_s: float = 0.4  # the direction of motion is taken over about this long
    appearance_weight: float = 1.5  # colour-histogram similarity (appearance.py) added to IoU in the first stage
    appearance_momentum: float = 0.9  # a track's descriptor: this much of the old, the rest of the new
    appearance_overlap: float = 0.3  # a detection overlapping another this much (IoU) does not update it
    merge_cover: float = 0.6  # a box covering this share of two confirmed tracks' boxes...
    merge_growth: float = 1.2  # ...and this many times larger than each is two objects merged: ignored (0 = off)
    noise: kalman.MotionNoise = field(default_factory=kalman.MotionNoise)


@dataclass(eq=False)
class Track:
    id: int
    mean: np.ndarray
    cov: np.ndarray
    first_pts: float
    last_pts: float  # time of the last observation
    box: np.ndarray  # the last observed box (xyxy)
    state: str = "tentative"  # tentative | confirmed | lost | ended
    hits: int = 1
    votes: dict[int, float] = field(default_factory=dict)
    scores: deque = field(default_factory=deque)
    stationary: bool = False
    path: list[tuple[float, float, float]] = field(default_factory=list)  # (pts_s, x, y) of the box's bottom centre
    recent: deque = field(default_factory=deque)  # (pts_s, cx, cy): the direction window, one entry beyond it
    median_score: float = 0.0
    observed: list[tuple[int, np.ndarray, float]] = field(default_factory=list)  # (frame, box, score) until confirmed
    last_obs_state: tuple[np.ndarray, np.ndarray] | None = None  # filter state right after the last observation
    matched_now: bool = True
    feature: np.ndarray | None = None  # appearance descriptor (moving average), when the caller gives them

    @property
    def class_id(self) -> int:
        return max(self.votes, key=self.votes.get)

    @property
    def score(self) -> float:
        """The median of its recent detection scores (kept up to date as they arrive)."""
        return self.median_score

    @property
    def predicted_box(self) -> np.ndarray:
        return kalman.state_to_xyxy(self.mean[None])[0]

    @property
    def smoothed_box(self) -> np.ndarray:
        """The filter's box: after an observation, the detection smoothed by the motion so far (what zones and
        lines test, so a box's frame-to-frame jitter does not cross a line back and forth)."""
        return kalman.state_to_xyxy(self.mean[None])[0]


class Tracker:
    def __init__(self, class_names: tuple[str, ...] = (), config: TrackerConfig | None = None) -> None:
        self.cfg = config or TrackerConfig()
        self.class_names = tuple(class_names)
        group_of = {}
        for g, names in enumerate(self.cfg.groups):
            for name in names:
                if name in self.class_names:
                    group_of[self.class_names.index(name)] = -1 - g
        self.group_of = group_of  # class id -> shared group id (negative); other classes are their own group
        self.tracks: list[Track] = []
        self.ids = itertools.count(1)
        self.last_pts: float | None = None
        self.frame = -1
        self.activated: list[Track] = []  # confirmed by the last update
        self.ended: list[Track] = []  # ended by the last update
        self.frame_dts: deque = deque(maxlen=30)
        self.matched: dict[int, Track] = {}
        self.features: np.ndarray | None = None  # this frame's appearance descriptors
        self.crowded: np.ndarray | None = None  # this frame's: which detections overlap another (when needed)

    # -- public ---------------------------------------------------------------------------------
    @property
    def uses_appearance(self) -> bool:
        return self.cfg.appearance_weight > 0

    def update(self, detections: Detections, pts_s: float, motion: np.ndarray | None = None,
               features: np.ndarray | None = None) -> list[Track]:  # fmt: skip
        """Feed one frame; returns the confirmed tracks observed in it (what to show and report). ``motion``: the
        camera's own motion since the previous frame (a 2x3 affine, see camera_motion.py), if it moves;
        ``features``: the detections' appearance descriptors (appearance.describe), used when configured."""
        cfg = self.cfg
        self.features = features if self.uses_appearance else None
        self.crowded = None
        self.frame += 1
        self.activated, self.ended = [], []
        dt = 0.0 if self.last_pts is None else max(pts_s - self.last_pts, 0.0)
        if dt > 0:
            self.frame_dts.append(dt)
        self.last_pts = pts_s
        self._predict(dt)
        if motion is not None:
            self._compensate(motion)
        for t in self.tracks:
            t.matched_now = False
        boxes = detections.boxes.astype(np.float64)
        scores, classes = detections.scores.astype(np.float64), detections.class_ids.astype(np.int64)
        if cfg.merge_cover:
            scores = self._without_merges(boxes, scores)
        strong = np.nonzero(scores >= cfg.high_score)[0]
        weak = np.nonzero((scores >= cfg.low_score) & (scores < cfg.high_score))[0]
        confirmed = [t for t in self.tracks if t.state in ("confirmed", "lost")]
        tentative = [t for t in self.tracks if t.state == "tentative"]
        pairs, left_tracks, left_strong = self._match(confirmed, strong, boxes, classes, cfg.match_iou,
                                                      scores if cfg.direction_weight else None,
                                                      looks=self.features is not None)  # fmt: skip
        alive = [t for t in left_tracks if t.state == "confirmed"]
        pairs2, _, _ = self._match(alive, weak, boxes, classes, cfg.low_match_iou)
        pairs3, left_tentative, left_strong = self._match(tentative, left_strong, boxes, classes,
                                                          cfg.tentative_match_iou)  # fmt: skip
        matched = pairs + pairs2 + pairs3
        self.matched = {d: t for t, d in matched}  # detection index -> the track that took it, this frame
        if matched:
            self._observe(matched, boxes, scores, classes, pts_s)
        for t in left_tentative:
            t.state = "ended"  # a tentative track missed once was noise
        for t in self.tracks:
            if t.state == "confirmed" and not t.matched_now:
                t.state = "lost"
            if t.state == "lost" and pts_s - t.last_pts > cfg.lost_s:
                t.state = "ended"
                self.ended.append(t)
        fresh = [i for i in left_strong if scores[i] >= cfg.new_track_score]
        if fresh:
            self._start(fresh, boxes, scores, classes, pts_s)
        self.tracks = [t for t in self.tracks if t.state != "ended"]
        return [t for t in self.tracks if t.state == "confirmed" and t.matched_now and self.reported(t)]

    def reported(self, track: Track) -> bool:
        return track.score >= self.cfg.min_track_score

    def finish(self) -> list[Track]:
        """End every track (the source is over); returns the confirmed ones."""
        done = [t for t in self.tracks if t.state in ("confirmed", "lost")]
        for t in self.tracks:
            t.state = "ended"
        self.tracks = []
        self.ended = done
        return done

    def with_untracked(self, detections: Detections, shown: list[Track]) -> Detections:
        """The shown tracks (with ids) plus this frame's strong detections no shown track took (id -1): what an
        interactive view draws, so a frame right after a seek is not empty while its tracks confirm."""
        ids = {t.id for t in shown}
        rest = [i for i in range(len(detections)) if detections.scores[i] >= self.cfg.high_score
                and (i not in self.matched or self.matched[i].id not in ids)]  # fmt: skip
        tracked = self.as_detections(shown)
        if not rest:
            return tracked
        extra = detections[np.array(rest)]
        return Detections(np.vstack([tracked.boxes, extra.boxes]), np.concatenate([tracked.scores, extra.scores]),
                          np.concatenate([tracked.class_ids, extra.class_ids]).astype(np.int32), self.class_names,
                          np.concatenate([tracked.track_ids, np.full(len(extra), -1, np.int64)]))  # fmt: skip

    def as_detections(self, tracks: list[Track]) -> Detections:
        if not tracks:
            return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int32),
                              self.class_names, np.zeros((0,), np.int64))  # fmt: skip
        boxes, scores = np.array([t.box for t in tracks], np.float32), np.array([t.score for t in tracks], np.float32)
        return Detections(boxes, scores, np.array([t.class_id for t in tracks], np.int32), self.class_names,
                          np.array([t.id for t in tracks], np.int64))  # fmt: skip

    # -- steps ----------------------------------------------------------------------------------
    def _predict(self, dt: float) -> None:
        if not self.tracks or dt <= 0:
            return
        mean = np.stack([t.mean for t in self.tracks])
        cov = np.stack([t.cov for t in self.tracks])
        mean, cov = kalman.predict(mean, cov, dt, self.cfg.noise)
        for t, m, c in zip(self.tracks, mean, cov, strict=True):
            t.mean, t.cov = m, c

    def _compensate(self, affine: np.ndarray) -> None:
        """Carry every track into this frame's coordinates: its filter, its last box and direction window."""
        if not self.tracks:
            return
        mean, cov = kalman.warp(np.stack([t.mean for t in self.tracks]), np.stack([t.cov for t in self.tracks]),
                                affine)  # fmt: skip
        for t, m, c in zip(self.tracks, mean, cov, strict=True):
            t.mean, t.cov = m, c
            corners = warp_points(affine, t.box.reshape(2, 2))
            t.box = np.concatenate([corners.min(0), corners.max(0)])
            t.recent = deque((pt, *warp_points(affine, np.array([[x, y]]))[0]) for pt, x, y in t.recent)
            if t.last_obs_state is not None:
                m0, c0 = kalman.warp(t.last_obs_state[0][None], t.last_obs_state[1][None], affine)
                t.last_obs_state = (m0[0], c0[0])

    def _group(self, class_ids: np.ndarray) -> np.ndarray:
        return np.array([self.group_of.get(int(c), int(c)) for c in class_ids], np.int64)

    def _match(self, tracks: list[Track], det_index: np.ndarray, boxes: np.ndarray, classes: np.ndarray,
               min_iou: float, scores: np.ndarray | None = None, looks: bool = False
               ) -> tuple[list[tuple[Track, int]], list[Track], np.ndarray]:  # fmt: skip
        """Hungarian matching on IoU (class groups must agree), plus the direction term when ``scores`` are
        given and the appearance term when ``looks``; returns pairs and what is left on each side."""
        det_index = np.asarray(det_index, np.int64)
        if not tracks or not len(det_index):
            return [], list(tracks), det_index
        predicted = kalman.state_to_xyxy(np.stack([t.mean for t in tracks]))
        iou = iou_matrix(predicted, boxes[det_index])
        same = self._group(np.array([t.class_id for t in tracks]))[:, None] == self._group(classes[det_index])[None]
        iou = np.where(same, iou, 0.0)
        gain = iou + self._direction(tracks, boxes[det_index], scores[det_index]) if scores is not None else iou
        if looks:
            known = [t.feature if t.feature is not None else np.zeros(appearance.DIM, np.float32) for t in tracks]
            gain = gain + appearance.gain(np.stack(known), self.features[det_index], iou, self.cfg.appearance_weight)
        rows, cols = linear_sum_assignment(-gain)
        keep = iou[rows, cols] >= min_iou
        pairs = [(tracks[r], int(det_index[c])) for r, c in zip(rows[keep], cols[keep], strict=True)]
        used_t, used_d = set(rows[keep].tolist()), set(cols[keep].tolist())
        left_tracks = [t for i, t in enumerate(tracks) if i not in used_t]
        left_dets = np.array([d for j, d in enumerate(det_index) if j not in used_d], np.int64)
        return pairs, left_tracks, left_dets

    def _without_merges(self, boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Zero the score of boxes that merge two confirmed tracks: neither matched nor the start of a track.
        Only confirmed tracks take part: a lost track's prediction drifts, and counting it would turn the box of
        the person in front into a "merge" and lose them too. So a merge that lasts is refused in its first frame
        only; from the next, both tracks are lost and one of them may take it."""
        tracks = [t for t in self.tracks if t.state == "confirmed"]
        if len(tracks) < 2:
            return scores
        merged = merged_boxes(boxes, kalman.state_to_xyxy(np.stack([t.mean for t in tracks])), self.cfg.merge_cover,
                              self.cfg.merge_growth)  # fmt: skip
        return np.where(merged, 0.0, scores)

    def _direction(self, tracks: list[Track], boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """OC-SORT's velocity-direction consistency: how well the direction from a track's last observation to
        each detection agrees with the direction of its recent motion, in [-1/2, 1/2] x weight x score."""
        span = self.cfg.direction_span_s
        ends = np.array([t.recent[-1] for t in tracks])  # (N, 3) t, x, y
        starts = np.array([t.recent[0] for t in tracks])
        inertia = ends[:, 1:] - starts[:, 1:]
        norm = np.linalg.norm(inertia, axis=1)
        valid = (ends[:, 0] - starts[:, 0] >= span) & (norm > 1e-6)
        if not valid.any():
            return np.zeros((len(tracks), len(boxes)))
        unit = inertia / np.maximum(norm, 1e-6)[:, None]
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        to_det = centres[None, :, :] - ends[:, None, 1:]  # (N, M, 2)
        lengths = np.maximum(np.linalg.norm(to_det, axis=2), 1e-6)
        cos = np.clip(np.einsum("nmk,nk->nm", to_det, unit) / lengths, -1.0, 1.0)
        agreement = (np.pi / 2 - np.arccos(cos)) / np.pi
        return np.where(valid[:, None], agreement, 0.0) * self.cfg.direction_weight * scores[None, :]

    def _observe(self, pairs: list[tuple[Track, int]], boxes: np.ndarray, scores: np.ndarray,
                 classes: np.ndarray, pts_s: float) -> None:  # fmt: skip
        cfg = self.cfg
        regular = [(t, d) for t, d in pairs if t.state != "lost" or t.last_obs_state is None]
        for t, d in pairs:
            if t.state == "lost" and t.last_obs_state is not None:
                self._re_update(t, boxes[d], pts_s)  # OC-SORT's observation-centric re-update
        if regular:
            mean = np.stack([t.mean for t, _ in regular])
            cov = np.stack([t.cov for t, _ in regular])
            mean, cov = kalman.update(mean, cov, np.stack([boxes[d] for _, d in regular]), cfg.noise)
            for (t, _), m, c in zip(regular, mean, cov, strict=True):
                t.mean, t.cov = m, c
        for t, d in pairs:
            t.last_obs_state = (t.mean.copy(), t.cov.copy())
            t.box, t.last_pts, t.matched_now = boxes[d].copy(), pts_s, True
            t.hits += 1
            t.votes[int(classes[d])] = t.votes.get(int(classes[d]), 0.0) + float(scores[d])
            t.scores.append(float(scores[d]))
            if len(t.scores) > cfg.score_history:
                t.scores.popleft()
            t.median_score = _median(t.scores)
            if self.features is not None:
                self._remember_look(t, d, boxes)
            if t.state == "tentative":
                t.observed.append((self.frame, t.box, float(scores[d])))
                if t.hits >= cfg.min_hits:
                    t.state = "confirmed"
                    self.activated.append(t)
            else:
                t.state = "confirmed"
            self._follow(t, pts_s)

    def _remember_look(self, t: Track, d: int, boxes: np.ndarray) -> None:
        """Blend the detection's descriptor into the track's, unless the box overlaps another detection (its
        colours would be partly someone else's)."""
        if self.crowded is None:
            overlap = iou_matrix(boxes, boxes)
            np.fill_diagonal(overlap, 0.0)
            self.crowded = overlap.max(1, initial=0.0) >= self.cfg.appearance_overlap
        if not self.crowded[d] and self.features[d].any():
            t.feature = appearance.blend(t.feature, self.features[d], self.cfg.appearance_momentum)

    def _re_update(self, t: Track, box: np.ndarray, pts_s: float) -> None:
        """Re-run the filter from the last observation to ``box`` along a straight line of virtual
        observations, one per typical frame interval."""
        mean, cov = t.last_obs_state
        gap = pts_s - t.last_pts
        step = float(np.median(self.frame_dts)) if self.frame_dts else gap
        n = max(int(round(gap / max(step, 1e-6))), 1)
        start, end = t.box.astype(np.float64), box.astype(np.float64)
        mean, cov = mean[None], cov[None]
        for k in range(1, n + 1):
            mean, cov = kalman.predict(mean, cov, gap / n, self.cfg.noise)
            virtual = start + (end - start) * (k / n)
            mean, cov = kalman.update(mean, cov, virtual[None], self.cfg.noise)
        t.mean, t.cov = mean[0], cov[0]

    def _start(self, index: list[int], boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
               pts_s: float) -> None:  # fmt: skip
        mean, cov = kalman.initiate(boxes[index], self.cfg.noise)
        for k, d in enumerate(index):
            t = Track(next(self.ids), mean[k], cov[k], pts_s, pts_s, boxes[d].copy())
            t.votes[int(classes[d])] = float(scores[d])
            t.scores.append(float(scores[d]))
            t.median_score = float(scores[d])
            t.observed.append((self.frame, t.box, float(scores[d])))
            t.last_obs_state = (t.mean.copy(), t.cov.copy())
            if self.features is not None:
                self._remember_look(t, d, boxes)
            if self.cfg.min_hits <= 1:
                t.state = "confirmed"
                self.activated.append(t)
            self._follow(t, pts_s)
            self.tracks.append(t)

    def _follow(self, t: Track, pts_s: float) -> None:
        """The direction window, the anchor path (every ``path_every_s``) and, at each path point, the
        stationary state (the anchor moved less than ``stationary_move`` box heights over ``stationary_s``)."""
        cfg = self.cfg
        x1, y1, x2, y2 = (float(v) for v in t.box)
        t.recent.append((pts_s, (x1 + x2) / 2, (y1 + y2) / 2))
        while len(t.recent) > 2 and pts_s - t.recent[1][0] >= cfg.direction_span_s:
            t.recent.popleft()
        if t.path and pts_s - t.path[-1][0] < cfg.path_every_s:
            return
        t.path.append((round(pts_s, 3), round((x1 + x2) / 2, 1), round(y2, 1)))
        if len(t.path) > PATH_KEEP:  # a car parked for months keeps its last minutes, not all of them
            del t.path[: len(t.path) - PATH_KEEP]
        last = t.path[-int(cfg.stationary_s / cfg.path_every_s) - 2 :]
        window = [p for p in last if pts_s - p[0] <= cfg.stationary_s]
        xs, ys = [p[1] for p in window], [p[2] for p in window]
        moved = max(max(xs) - min(xs), max(ys) - min(ys)) / max(y2 - y1, 1.0)
        if moved > cfg.stationary_move:
            t.stationary = False
        elif pts_s - window[0][0] >= cfg.stationary_s * 0.9:
            t.stationary = True


def _median(values: deque) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
