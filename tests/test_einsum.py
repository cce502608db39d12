"""einsum and einsum_path against NumPy: values, paths, broadcasting, gradients, errors."""

import fastsync as mx
import numpy as np
import pytest

RNG = np.random.default_rng(1)
SIZES = dict(zip("abcdefghijklmnopqrstuvwxyzABC", [2, 3, 4, 5, 3, 2, 4, 3, 5, 2] * 3, strict=False))


def operands_for(case, dtype=np.float32):
    terms = case.split("->")[0].split(",")
    return [RNG.standard_normal([SIZES[c] for c in t]).astype(dtype) for t in terms]


def check(got, want, tol=1e-4):
    got = np.array(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


CASES = [
    "ij,jk->ik", "ij,jk", "ij->ji", "ii->i", "ii", "ij->", "i,i", "i,j->ij", "ijk,ikl->ijl",
    "bhqd,bhkd->bhqk", "itjk,iujk->ijtu", "ab,cd,bc->ad", "a,ab,abc->abc", "a,b,ab->ab",
    "ea,fb,gc,hd,abcd->efgh", "abcd,ea,fb,gc,hd->efgh", "eb,cb,fb->cef", "dd,fb,be,cdb->cef",
    "bca,cdb,dbf,afc->", "dcc,fce,ea,dbf->ab", "ijk,lmk,ijf->lf", "aab,bc->ac", "Ab,bA->",
    "abc,cba", "ij,ij->ij", "ij,ji->i", "iij,jk->ik",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_einsum_matches_numpy(case):
    ops = operands_for(case)
    want = np.einsum(case, *[o.astype(np.float64) for o in ops])
    check(mx.einsum(case, *[mx.array(o) for o in ops]), want)


@pytest.mark.parametrize("case", [c for c in CASES if "," in c])
def test_einsum_path_is_numpys_greedy_path(case):
    ops = operands_for(case)
    path, report = mx.einsum_path(case, *[mx.array(o) for o in ops])
    assert path == np.einsum_path(case, *ops, optimize="greedy")[0][1:]
    assert "Complete contraction" in report


def test_einsum_path_single_operand_and_pair():
    assert mx.einsum_path("ii", mx.zeros((3, 3)))[0] == [(0,)]
    assert mx.einsum_path("ij,jk->ijk", mx.zeros((2, 3)), mx.zeros((3, 4)))[0] == [(0, 1)]


@pytest.mark.parametrize(
    "case, shapes",
    [
        ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
        ("...ij,...jk->...ik", [(1, 3, 4), (6, 4, 5)]),
        ("...ij,...jk->...ik", [(7, 1, 3, 4), (2, 4, 5)]),
        ("...ij,...jk", [(1, 3, 4), (5, 4, 2)]),
        ("a...d->...", [(2, 3, 4, 5)]),
        ("...hh->...h", [(2, 3, 4, 4)]),
        ("ab...,b...->ab...", [(2, 3, 4), (3, 4)]),
        ("...cd,c...->d...", [(2, 3, 4), (3, 2)]),
        ("...,...", [(3, 1), (1, 4)]),
        ("ab,bc->c", [(5, 1), (8, 2)]),
        ("abcd,cdab->abcd", [(5, 1, 3, 1), (1, 7, 1, 2)]),
    ],
)
def test_einsum_ellipsis_and_broadcast(case, shapes):
    ops = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    want = np.einsum(case, *[o.astype(np.float64) for o in ops])
    check(mx.einsum(case, *[mx.array(o) for o in ops]), want)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_einsum_integer_and_bool(dtype):
    for case in ["ij,jk->ik", "ii->i", "i,i", "ijk,ikl->ijl"]:
        ops = [
            (RNG.integers(0, 4, [SIZES[c] for c in t])).astype(dtype)
            for t in case.split("->")[0].split(",")
        ]
        want = np.einsum(case, *ops)
        got = mx.einsum(case, *[mx.array(o) for o in ops])
        np.testing.assert_array_equal(np.array(got), want)


def test_einsum_mixed_dtypes_promote():
    a = RNG.standard_normal((3, 4)).astype(np.float16)
    b = RNG.standard_normal((4, 2)).astype(np.float32)
    got = mx.einsum("ij,jk", mx.array(a), mx.array(b))
    assert got.dtype == mx.float32
    check(got, a.astype(np.float64) @ b, 1e-3)


def test_einsum_of_views():
    a = RNG.standard_normal((6, 5)).astype(np.float32)
    b = RNG.standard_normal((5, 4)).astype(np.float32)
    got = mx.einsum("ji,jk->ik", mx.array(a)[::2].T.T, mx.array(b).T.T[:3])
    check(got, np.einsum("ji,jk->ik", a[::2], b[:3]))


def test_einsum_gradients():
    # f(x, y, z) = sum(einsum("ij,jk,kl->il", x, y, z) * r) is linear in each operand.
    x, y, z = (RNG.standard_normal(s) for s in [(3, 4), (4, 5), (5, 2)])
    r = RNG.standard_normal((3, 2))

    def f(a, b, c):
        return (mx.einsum("ij,jk,kl->il", a, b, c) * mx.array(r, dtype=mx.float32)).sum()

    args = [mx.array(v, dtype=mx.float32) for v in (x, y, z)]
    gx, gy, gz = mx.grad(f, argnums=(0, 1, 2))(*args)
    check(gx, r @ (y @ z).T, 1e-3)
    check(gy, x.T @ r @ z.T, 1e-3)
    check(gz, (x @ y).T @ r, 1e-3)
    # A trace: d/dA sum(einsum("ii", A)) is the identity.
    check(mx.grad(lambda a: mx.einsum("ii", a))(mx.zeros((4, 4))), np.eye(4))


def test_einsum_on_a_stream():
    s = mx.new_stream(mx.default_device())
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
    got = mx.einsum(
        "ij,jk->ik", mx.array(a, dtype=mx.float32), mx.array(b, dtype=mx.float32), stream=s
    )
    check(got, a @ b)


@pytest.mark.parametrize(
    "case, shapes, text",
    [
        ("ij,jk", [(2, 3)], "name 2 operands but 1"),
        ("ij", [(2, 3, 4)], "has 2 labels but its operand has 3"),
        ("ij,jk", [(2, 3), (4, 5)], "label 'j' has size 3"),
        ("ii", [(2, 3)], "repeats in operand 0"),
        ("ij->ii", [(2, 2)], "appears more than once"),
        ("ij->k", [(2, 2)], "does not appear"),
        ("i1", [(2, 2)], "only letters"),
        ("a...b...c,a...b...c->abc", [(2, 3, 4), (2, 3, 4)], "one ellipsis"),
        ("...i->i", [(2, 3)], "no '...'"),
        ("i..j", [(2, 3)], "ellipsis"),
        ("i->i->i", [(2,)], "one '->'"),
    ],
)
def test_einsum_errors(case, shapes, text):
    with pytest.raises(ValueError, match=text):
        mx.einsum(case, *[mx.zeros(s) for s in shapes])


def test_einsum_needs_an_operand():
    with pytest.raises(ValueError, match="at least one operand"):
        mx.einsum("")
