"""Pairs: the paper's 1 : 2 ratio, determinism from the seed, streaming, in-batch weights, eval set size."""

import inspect
import tracemalloc

import numpy as np
import pytest
import torch

from pdtlib.pairs import (BalancedBatchSampler, PairSampler, _triangle, evaluation_pairs, in_batch_pairs,
                          pairs_per_batch)


@pytest.fixture(scope="module")
def labels():
    # unbalanced, like IEMOCAP: 0 happy 30%, 1 angry 20%, 2 neutral 35%, 3 sad 15%
    return np.random.default_rng(0).choice(4, size=1200, p=[0.3, 0.2, 0.35, 0.15])


def test_sampled_pairs_are_one_third_same_and_well_formed(labels):
    pool = np.arange(0, 1200, 3)
    sampler = PairSampler(labels, pool, batch_size=32, seed=0)
    a, b, same = map(np.concatenate, zip(*sampler.stream(60_000)))
    assert len(a) == 60_000
    assert abs(same.mean() - 1 / 3) < 0.01  # std of the mean: 0.002
    assert np.array_equal(labels[a] == labels[b], same)
    assert np.isin(a, pool).all() and np.isin(b, pool).all() and (a != b).all()
    assert set(np.unique(labels[b[~same]])) == {0, 1, 2, 3}


def test_sampled_pairs_are_deterministic_and_resumable(labels):
    one, two = PairSampler(labels, seed=7), PairSampler(labels, seed=7)
    for k in (0, 1, 12345):
        for x, y in zip(one.batch(k), two.batch(k)):
            assert np.array_equal(x, y)
    stream = list(one.stream(32 * 10))
    resumed = list(one.stream(32 * 10, start=6))
    assert all(np.array_equal(x, y) for s, r in zip(stream[6:], resumed) for x, y in zip(s, r))
    assert not np.array_equal(PairSampler(labels, seed=8).batch(0)[0], one.batch(0)[0])


def test_four_million_pairs_stream_without_being_materialised(labels):
    stream = PairSampler(labels, seed=0).stream(4_000_000)
    assert inspect.isgenerator(stream)
    tracemalloc.start()
    for _, batch in zip(range(2000), stream):  # 64,000 pairs
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # bytes: a few batches at a time, not the 4 million pairs (~100 MB)


def test_balanced_batches(labels):
    sampler = BalancedBatchSampler(labels, np.arange(600), batch_size=32, seed=3)
    for k in range(20):
        rows = sampler.batch(k)
        assert len(rows) == 32 and len(np.unique(rows)) == 32 and (rows < 600).all()
        assert (np.bincount(labels[rows], minlength=4) == 8).all()
    assert np.array_equal(sampler.batch(5), BalancedBatchSampler(labels, np.arange(600), 32, seed=3).batch(5))
    odd = BalancedBatchSampler(labels, batch_size=10, seed=0).batch(0)
    assert sorted(np.bincount(labels[odd], minlength=4)) == [2, 2, 3, 3]


def test_in_batch_pairs_weight_same_and_different_one_to_two(labels):
    rows = BalancedBatchSampler(labels, batch_size=32, seed=0).batch(0)
    ia, ib, same, weight = in_batch_pairs(torch.as_tensor(labels[rows]), torch.as_tensor(rows))
    assert len(ia) == pairs_per_batch("in-batch", 32) == 496 and (ia < ib).all()
    assert same.sum() == 4 * (8 * 7 // 2)  # 112 same pairs, 384 different
    assert weight.sum().item() == pytest.approx(1.0)
    assert weight[same].sum().item() == pytest.approx(1 / 3) and weight[~same].sum().item() == pytest.approx(2 / 3)
    assert len(weight[same].unique()) == 1 and len(weight[~same].unique()) == 1  # equal within a kind


def test_in_batch_pairs_of_a_row_with_itself_weigh_nothing():
    y = torch.tensor([0, 0, 1, 1])
    rows = torch.tensor([5, 5, 6, 7])  # row 5 twice
    ia, ib, same, weight = in_batch_pairs(y, rows)
    assert weight[(ia == 0) & (ib == 1)].item() == 0
    assert weight[same].sum().item() == pytest.approx(1 / 3)  # the one real same pair (6, 7) takes it all
    only_different = in_batch_pairs(torch.tensor([0, 1, 2]))[3]
    assert only_different.sum().item() == pytest.approx(1.0)


def test_evaluation_set_has_50000_distinct_pairs_at_one_to_two(labels):
    pairs = evaluation_pairs(labels, n_pairs=50_000, seed=0)
    assert len(pairs) == 50_000 and pairs.same.sum() == 16_667
    assert np.array_equal(labels[pairs.a] == labels[pairs.b], pairs.same)
    key = np.minimum(pairs.a, pairs.b) * 10_000 + np.maximum(pairs.a, pairs.b)
    assert len(np.unique(key)) == 50_000 and (pairs.a != pairs.b).all()
    assert 0.4 < (pairs.a < pairs.b).mean() < 0.6  # random order within a pair
    again = evaluation_pairs(labels, n_pairs=50_000, seed=0)
    assert np.array_equal(pairs.a, again.a) and np.array_equal(pairs.b, again.b)


def test_a_small_split_gives_fewer_evaluation_pairs_and_says_so():
    small = np.repeat([0, 1, 2, 3], 50)  # 200 utterances, 4 x C(50, 2) = 4,900 same pairs
    pairs = evaluation_pairs(small, n_pairs=50_000)
    assert len(pairs) == 14_700 and pairs.same.sum() == 4_900  # every same pair, twice as many different
    assert "14,700 evaluation pairs" in pairs.note and "fewer than the 50,000" in pairs.note


def test_triangle_index_inverts():
    i, j = _triangle(np.arange(100 * 99 // 2))
    expected = [(a, b) for b in range(100) for a in range(b)]
    assert list(zip(i.tolist(), j.tolist())) == expected


@pytest.mark.parametrize("make, match", [
    (lambda: PairSampler([0, 1, 1], batch_size=1), "batch_size"),
    (lambda: PairSampler([0, 0, 0]), "two"),
    (lambda: PairSampler([0, 1, 2], pool=[]), "empty"),
    (lambda: PairSampler([0, 1, 1], positive_fraction=1.5), "positive_fraction"),
])
def test_bad_pair_settings_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()
