"""Shape and data-movement ops against NumPy."""

import fastsync as mx
import numpy as np
import pytest
from helpers import check, random_array, to_mx
from hypothesis import given, settings
from hypothesis import strategies as st


def test_expand_squeeze_swap_move():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = mx.array(a)
    check(mx.expand_dims(x, 0), np.expand_dims(a, 0), "float32")
    check(mx.expand_dims(x, (-1, 1)), np.expand_dims(a, (-1, 1)), "float32")
    check(mx.squeeze(mx.expand_dims(x, (0, 2))), a, "float32")
    check(mx.squeeze(mx.array(a[:1]), 0), a[0], "float32")
    check(mx.swapaxes(x, 0, 2), np.swapaxes(a, 0, 2), "float32")
    check(mx.moveaxis(x, 0, -1), np.moveaxis(a, 0, -1), "float32")
    check(mx.moveaxis(x, -1, 0) + 1, np.moveaxis(a, -1, 0) + 1, "float32")
    with pytest.raises(ValueError, match=r"\[squeeze\] cannot squeeze axis 1 of size 3"):
        mx.squeeze(x, 1)
    with pytest.raises(ValueError, match=r"\[swapaxes\] axis 3"):
        mx.swapaxes(x, 0, 3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 4), st.data(),
       st.sampled_from(["float32", "int32", "bool_", "float16"]))
def test_concatenate_property(shape, count, data, dtype):
    rng = np.random.default_rng(30)
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1))
    parts = []
    for _ in range(count):
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 3))
        parts.append(random_array(rng, tuple(s), dtype))
    xs = [to_mx(p, dtype) for p in parts]
    if data.draw(st.booleans()) and nd >= 2:
        # Non-contiguous inputs: transposed copies of transposed data.
        xs = [mx.array(np.ascontiguousarray(p.T)).T.astype(x.dtype)
              for p, x in zip(parts, xs, strict=True)]
    check(mx.concatenate(xs, axis=axis), np.concatenate(parts, axis=axis), dtype)


def test_concatenate_promotes_and_checks():
    got = mx.concatenate([mx.array([1, 2], dtype=mx.int8), mx.array([0.5])])
    assert got.dtype == mx.float32 and got.tolist() == [1.0, 2.0, 0.5]
    with pytest.raises(ValueError, match=r"\[concatenate\] shapes \(2, 3\) and \(2, 4\)"):
        mx.concatenate([mx.ones((2, 3)), mx.ones((2, 4))], axis=0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        mx.concatenate([mx.ones((2, 3)), mx.ones((3,))])


def test_stack_and_split():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    b = a * 10
    check(mx.stack([mx.array(a), mx.array(b)]), np.stack([a, b]), "int32")
    check(mx.stack([mx.array(a), mx.array(b)], axis=-1), np.stack([a, b], axis=-1), "int32")
    pairs = [(mx.split(mx.array(a), 2, axis=1), np.split(a, 2, axis=1)),
             (mx.split(mx.array(a), [1, 3, 10], axis=1), np.split(a, [1, 3, 10], axis=1))]
    for got_parts, want_parts in pairs:
        for got, want in zip(got_parts, want_parts, strict=True):
            check(got, want, "int32")
    with pytest.raises(ValueError, match="equal division"):
        mx.split(mx.array(a), 3, axis=1)
    with pytest.raises(ValueError, match="same shape"):
        mx.stack([mx.ones((2,)), mx.ones((3,))])


def test_concatenate_across_streams():
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    a = mx.multiply(mx.ones((1000,)), 2, stream=s1)
    b = mx.add(mx.ones((500,)), 1, stream=s2)
    c = mx.concatenate([a, b, a], stream=s2)
    assert np.array(c).sum() == 2 * 1000 + 2 * 500 + 2 * 1000


def test_concatenate_of_many_inputs_with_repeats():
    # Past a few inputs the encoder stops de-duplicating the buffers a task
    # keeps: the same array many times, on a stream behind unfinished work.
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(40)]
    xs = [mx.array(p) for p in parts]
    s = mx.new_stream(mx.cpu)
    ys = [mx.add(x, 1.0, stream=s) for x in xs]
    picks = [i % 7 for i in range(60)] + list(range(40))
    got = mx.concatenate([ys[i] for i in picks], stream=s)
    check(got, np.concatenate([parts[i] + 1 for i in picks]), "float32")


def test_creation_helpers():
    check(mx.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype=np.float32), "float32")
    check(mx.linspace(-3, 7, 1), np.linspace(-3, 7, 1, dtype=np.float32), "float32")
    assert mx.linspace(0, 1, 0).shape == (0,)
    check(mx.eye(3), np.eye(3, dtype=np.float32), "float32")
    check(mx.eye(3, 4, k=1, dtype=mx.int32), np.eye(3, 4, k=1, dtype=np.int32), "int32")
    check(mx.identity(2), np.identity(2, dtype=np.float32), "float32")
    check(mx.tri(3, 4, k=-1), np.tri(3, 4, k=-1, dtype=np.float32), "float32")
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    check(mx.tril(mx.array(a)), np.tril(a), "float32")
    check(mx.triu(mx.array(a), 1), np.triu(a, 1), "float32")
    with pytest.raises(ValueError, match="tril"):
        mx.tril(mx.ones((3,)))
    assert mx.linspace(0, 10, 5, dtype=mx.int32).tolist() == [0, 2, 5, 7, 10]  # truncated
    with pytest.raises(TypeError, match="linspace"):
        mx.linspace(0, 1, 3, dtype=mx.bool_)


def test_tile_repeat_pad():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    x = mx.array(a)
    for reps in [2, (2, 1), (1, 2, 3), (0, 2)]:
        check(mx.tile(x, reps), np.tile(a, reps), "int32")
    check(mx.repeat(x, 2), np.repeat(a, 2), "int32")
    check(mx.repeat(x, 3, axis=1), np.repeat(a, 3, axis=1), "int32")
    check(mx.repeat(x.T, 2, axis=0), np.repeat(a.T, 2, axis=0), "int32")
    check(mx.pad(x, 1), np.pad(a, 1), "int32")
    check(mx.pad(x, ((0, 1), (2, 0)), constant_values=7),
          np.pad(a, ((0, 1), (2, 0)), constant_values=7), "int32")
    check(mx.pad(x, (1, 2)), np.pad(a, (1, 2)), "int32")
    with pytest.raises(ValueError, match="pad"):
        mx.pad(x, ((1, 1),) * 3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.data(),
       st.sampled_from(["float32", "int32", "uint8", "float16", "bool_"]))
def test_sort_argsort_topk(shape, data, dtype):
    rng = np.random.default_rng(31)
    a = random_array(rng, tuple(shape), dtype)
    if dtype == "float32":
        a.flat[0] = np.nan
    nd = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-nd, nd - 1)))
    x = to_mx(a, dtype)
    check(mx.sort(x, axis=axis), np.sort(a, axis=axis, kind="stable"), dtype)
    got = mx.argsort(x, axis=axis)
    assert got.dtype == mx.uint32
    check(got, np.argsort(a, axis=axis, kind="stable").astype(np.uint32), "uint32")
    ax = -1 if axis is None else axis
    flat = a.reshape(-1) if axis is None else a
    k = data.draw(st.integers(0, flat.shape[ax]))
    want = np.take(np.sort(flat, axis=ax), np.arange(flat.shape[ax] - k, flat.shape[ax]), axis=ax)
    check(mx.topk(x, k, axis=axis), want, dtype)


def test_sort_errors():
    with pytest.raises(ValueError, match=r"\[topk\] k must be in \[0, 3\]"):
        mx.topk(mx.ones((3,)), 4)
    with pytest.raises(ValueError, match=r"\[sort\] axis 2"):
        mx.sort(mx.ones((3, 2)), axis=2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data(),
       st.sampled_from(["float32", "int32", "bool_", "float16"]))
def test_take_property(shape, data, dtype):
    rng = np.random.default_rng(32)
    a = random_array(rng, tuple(shape), dtype)
    nd = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-nd, nd - 1)))
    size = a.size if axis is None else shape[axis]
    idx_shape = tuple(data.draw(st.lists(st.integers(0, 3), max_size=2)))
    idx = rng.integers(-size, size, size=idx_shape)
    check(mx.take(to_mx(a, dtype), mx.array(idx), axis=axis), np.take(a, idx, axis=axis), dtype)
    if axis is not None:
        along = rng.integers(0, size, size=tuple(s if d != axis % nd else 2
                                                    for d, s in enumerate(shape)))
        check(mx.take_along_axis(to_mx(a, dtype), mx.array(along), axis=axis),
              np.take_along_axis(a, along, axis=axis), dtype)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32",
                                   "int64", "uint64"])
def test_take_reads_indices_of_every_integer_dtype(dtype):
    """take and take_along_axis read indices of any integer dtype; int32, uint32 and int64
    ones go to the kernel as they are (no conversion op in the graph), strided views
    included, and an index past the axis names its own value, never a wrapped one."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((5, 70)).astype(np.float32)
    x = mx.array(a)
    signed = not dtype.startswith("u")
    idx = rng.integers(-70 if signed else 0, 70, size=(3, 8)).astype(dtype)
    i = mx.array(idx)
    check(mx.take(x, i, axis=1), np.take(a, idx.astype(np.int64), axis=1), "float32")
    # A strided view of the indices (every other column of a transpose).
    view = i.T[::2]
    check(mx.take(x, view, axis=1), np.take(a, idx.T[::2].astype(np.int64), axis=1), "float32")
    along = rng.integers(0, 5, size=(2, 70)).astype(dtype)
    check(mx.take_along_axis(x, mx.array(along), axis=0),
          np.take_along_axis(a, along.astype(np.int64), axis=0), "float32")
    converted = "AsType" in mx._core._graph_ops([mx.take(x, i, axis=1)])
    assert converted == (dtype not in ("int32", "uint32", "int64"))
    # Past the axis: 4,000,000,000 read as uint32 is not -294,967,296 (which would wrap).
    big = {"int8": 100, "uint8": 200, "int16": 30000, "uint16": 60000, "int32": 2**31 - 1,
           "uint32": 4_000_000_000, "int64": 2**40, "uint64": 2**40}[dtype]
    with pytest.raises(IndexError, match=rf"\[take\] index {big} is out of bounds"):
        mx.eval(mx.take(x, mx.array(np.array([1, big], dtype=dtype)), axis=1))
    assert mx.take(x, mx.array(np.array([69], dtype=dtype)), axis=1).tolist() == \
        a[:, [69]].tolist()  # usable afterwards


def test_array_indexing_and_errors():
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = mx.array(a)
    check(x[mx.array([3, 0, -1])], a[[3, 0, -1]], "float32")
    check(x[[1, 1]], a[[1, 1]], "float32")
    check(x.T[mx.array([[0, 2]])], a.T[[[0, 2]]], "float32")
    with pytest.raises(IndexError, match=r"\[take\] index 4 is out of bounds"):
        mx.eval(x[mx.array([4])])
    assert (x + 1).tolist()[0] == [1.0, 2.0, 3.0]  # the runtime is fine afterwards
    with pytest.raises(TypeError, match=r"\[take\] indices must be integers"):
        mx.take(x, mx.array([0.5]))
    with pytest.raises(ValueError, match=r"\[take_along_axis\] indices must have"):
        mx.take_along_axis(x, mx.array([0]), axis=0)


def test_scatter_via_at():
    a = np.zeros((5, 3), np.float32)
    x = mx.array(a)
    idx = np.array([0, 2, 2, -1])
    vals = np.arange(12, dtype=np.float32).reshape(4, 3)
    want = a.copy()
    np.add.at(want, idx, vals)
    check(x.at[mx.array(idx)].add(mx.array(vals)), want, "float32")
    check(x.at[1].add(2.0), a + np.array([[0], [2], [0], [0], [0]], np.float32), "float32")
    want_set = a.copy()
    want_set[[1, 3]] = 7
    check(x.at[[1, 3]].set(7), want_set, "float32")
    assert x.tolist() == a.tolist()  # functional: x itself is unchanged
    i = mx.array([1, 1, 1], dtype=mx.int32)
    assert mx.zeros((3,), dtype=mx.int32).at[i].add(1).tolist() == [0, 3, 0]
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(x.at[[5]].add(1.0))
    with pytest.raises(ValueError, match="cannot combine"):
        x.at[[0, 1]].add(mx.ones((3, 3)))


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    data=st.data(),
)
def test_split_is_one_node_of_views_with_one_concatenation_back(shape, data):
    """split: NumPy's pieces, negative, out-of-range and unordered indices included. Pieces
    that tile the axis in order are one node of views, and the gradient of any subset of
    them is one concatenation of their cotangents (zeros for the others), not one
    zero-padded copy per piece summed."""
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    idx = sorted(data.draw(st.lists(st.integers(-n - 2, n + 2), max_size=3)))
    a = np.random.default_rng(len(idx)).standard_normal(shape).astype(np.float32)
    pieces = mx.split(mx.array(a), idx, axis=axis)
    want = np.split(a, idx, axis=axis)
    assert len(pieces) == len(want)
    for p, w in zip(pieces, want, strict=True):
        assert p.shape == w.shape
        np.testing.assert_array_equal(np.array(p), w)
    used = data.draw(st.lists(st.integers(0, len(want) - 1), min_size=1, unique=True))

    def f(x):
        ps = mx.split(x, idx, axis=axis)
        return sum(mx.sum(ps[i] * (i + 1)) for i in used)

    g = mx.grad(f)(mx.array(a))
    expect = np.zeros_like(a)
    starts = [0, *idx]
    for i in used:
        view = [slice(None)] * a.ndim
        view[axis] = slice(starts[i], idx[i] if i < len(idx) else None)
        expect[tuple(view)] += i + 1
    if all(0 <= i <= n for i in idx):  # sorted and in range: the pieces tile the axis
        ops = mx._core._graph_ops([g])
        assert ops.get("Concatenate", 0) == 1 and "Pad" not in ops
    np.testing.assert_array_equal(np.array(g), expect)


def _reshape_targets(shape):
    """Shapes of the same size: flattened, one axis split in two, two neighbours merged,
    ones inserted."""
    size = int(np.prod(shape))
    out = [(size,), (*shape, 1), (1, *shape)]
    for i, n in enumerate(shape):
        for f in range(2, n):
            if n % f == 0:
                out.append((*shape[:i], f, n // f, *shape[i + 1 :]))
    for i in range(len(shape) - 1):
        out.append((*shape[:i], shape[i] * shape[i + 1], *shape[i + 2 :]))
    return out


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    data=st.data(),
)
def test_reshape_of_a_strided_view_copies_only_when_numpy_does(shape, data):
    """Reshaping a transposed, sliced or reversed view reads it in place whenever its strides
    allow (NumPy's rule: the view shares memory exactly when NumPy's does), and gives NumPy's
    values either way."""
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    steps = [data.draw(st.sampled_from([1, 1, 2, -1])) for _ in shape]
    index = tuple(slice(None, None, s) for s in steps)
    view = a.transpose(perm)[index]
    target = data.draw(st.sampled_from(_reshape_targets(view.shape)))
    x = mx.array(a)
    v = x.transpose(perm)[index]
    mx.eval(x, v)
    base = mx.get_active_memory()
    y = v.reshape(target)
    mx.eval(y)
    grew = mx.get_active_memory() - base
    want = view.reshape(target)
    np.testing.assert_array_equal(np.array(y), want)
    if np.shares_memory(want, a):
        assert grew == 0
