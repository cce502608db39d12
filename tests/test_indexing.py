"""NumPy indexing: a[...] with integer arrays combined with slices, integers, None and an
ellipsis (NumPy's placement of the broadcast dimensions), and item assignment a[...] = v for
every index form, including boolean masks; in-place operators update the array object."""

import fastsync as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

RNG = np.random.default_rng(17)

A = np.arange(3 * 4 * 5, dtype=np.int32).reshape(3, 4, 5)

GET_INDICES = [
    (0, slice(1, 3)),
    (Ellipsis, 2),
    (None, 1, Ellipsis, None),
    (slice(None, None, -1), slice(1, None, 2)),
    np.array([2, 0, -1]),
    (np.array([0, 2]), slice(None), np.array([1, 4])),  # separated: dims go first
    (slice(None), np.array([[0, 1], [3, 2]]), np.array([4, 0])),  # adjacent: stay in place
    (1, np.array([0, 3])),  # int + array are adjacent
    (np.array([1, 0]), 2),
    (np.array([1]), slice(None), 3),  # int separated from array
    (Ellipsis, np.array([[1], [2]]), np.array([0, 3, 4])),
    (None, np.array([0, 2]), None, slice(1, 3)),
    (slice(None), [0, 0, 2]),
    (np.array(1), np.array([[2, 3]])),
]


@pytest.mark.parametrize("index", GET_INDICES, ids=range(len(GET_INDICES)))
def test_getitem_matches_numpy(index):
    x = mx.array(A)
    mx_index = (
        tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in index)
        if isinstance(index, tuple)
        else mx.array(index)
    )
    np.testing.assert_array_equal(np.array(x[mx_index]), A[index])
    # The same on a strided view.
    v = A.transpose(2, 0, 1)[::2]
    xv = x.transpose(2, 0, 1)[::2]
    try:
        want = v[index]
    except IndexError:
        return
    np.testing.assert_array_equal(np.array(xv[mx_index]), want)


def test_getitem_errors():
    x = mx.array(A)
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(ValueError):
        x[0, 0, 0, 0]
    with pytest.raises(ValueError):
        x[..., ...]
    with pytest.raises(ValueError, match="mask"):
        x[mx.array(A > 3)]
    with pytest.raises(ValueError):
        x[mx.array([1.5])]
    assert x[1, 2, 3].item() == A[1, 2, 3]  # usable afterwards


@pytest.mark.parametrize("index", [
    np.array([-4]),  # one array index, past the start of axis 0 (length 3)
    np.array([0, 3]),  # past its end
    (np.array([-4]), 0, np.array([1])),  # several: -4 wrapped once would land inside the merge
    (np.array([1]), slice(None), np.array([-6])),  # past the start of the last axis (length 5)
    (slice(None), np.array([[0], [4]]), np.array([1, -2])),  # past the end of axis 1, broadcast
    (2, np.array([1]), np.array([5])),  # an integer beside them, an array index past the end
])
@pytest.mark.parametrize("dtype", ["int32", "uint32", "int64", "int8"])
def test_array_indices_out_of_their_axis_raise(index, dtype):
    """An array index outside [-n, n) of its own axis raises IndexError when read, for one
    array index or several combined (never another element's value), in getitem and
    setitem, and the runtime stays usable."""
    items = index if isinstance(index, tuple) else (index,)
    if dtype.startswith("u") and any(isinstance(i, np.ndarray) and (i < 0).any() for i in items):
        pytest.skip("a negative index has no unsigned form")
    mx_index = tuple(mx.array(i.astype(dtype)) if isinstance(i, np.ndarray) else i
                     for i in items)
    with pytest.raises(IndexError):
        A[index]  # NumPy agrees
    x = mx.array(A)
    with pytest.raises(IndexError, match=r"is out of bounds"):
        mx.eval(x[mx_index])
    with pytest.raises(IndexError, match=r"is out of bounds"):
        x[mx_index] = 7
        mx.eval(x)
    assert mx.array(A)[mx.array(np.array([-3], dtype="int64"))].tolist() == A[[-3]].tolist()


SET_INDICES = [
    1,
    (slice(1, 3), 2),
    (Ellipsis, slice(None, None, 2)),
    np.array([2, 0]),
    (np.array([0, 2]), slice(None), np.array([1, 4])),
    (slice(None), np.array([3, 1])),
    (None, 0),
    (-1, -1, -1),
]


@pytest.mark.parametrize("index", SET_INDICES, ids=range(len(SET_INDICES)))
@pytest.mark.parametrize("value_kind", ["scalar", "broadcast", "full"])
def test_setitem_matches_numpy(index, value_kind):
    want = A.copy()
    sel_shape = want[index].shape
    if value_kind == "scalar" or not sel_shape:
        value = -7
    elif value_kind == "broadcast":
        value = -np.arange(sel_shape[-1] if sel_shape else 1, dtype=np.int32)
    else:
        value = -np.arange(int(np.prod(sel_shape)), dtype=np.int32).reshape(sel_shape)
    want[index] = value
    x = mx.array(A)
    alias = x
    mx_index = (
        tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in index)
        if isinstance(index, tuple)
        else (mx.array(index) if isinstance(index, np.ndarray) else index)
    )
    x[mx_index] = value if np.isscalar(value) else mx.array(value)
    np.testing.assert_array_equal(np.array(x), want)
    np.testing.assert_array_equal(np.array(alias), want)  # the same object was updated


def test_setitem_with_mask_and_dtype_conversion():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = mx.array(a)
    x[x > 5] = 0
    a[a > 5] = 0
    np.testing.assert_array_equal(np.array(x), a)
    rows = np.array([True, False, True])
    x[mx.array(rows)] = mx.array([1.0, 2.0, 3.0, 4.0])
    a[rows] = [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(np.array(x), a)
    y = mx.array([1, 2, 3])
    y[1] = 2.7  # converted to the array's dtype
    assert y.dtype == mx.int32 and y.tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        y[mx.array([True, False])] = 1
    with pytest.raises(ValueError):
        y[0:2] = mx.array([1, 2, 3])
    assert y.tolist() == [1, 2, 3]  # a failed assignment leaves the array as it was


def test_inplace_operators_update_the_object():
    x = mx.array([1, 2, 3])
    alias = x
    x += 1
    x *= 2
    x -= 1
    x //= 2
    x **= 2
    x %= 7
    x <<= 1
    x >>= 1
    x |= 8
    x &= 12
    x ^= 1
    want = np.array([1, 2, 3])
    for f in (
        lambda v: v + 1,
        lambda v: v * 2,
        lambda v: v - 1,
        lambda v: v // 2,
        lambda v: v**2,
        lambda v: v % 7,
        lambda v: v << 1,
        lambda v: v >> 1,
        lambda v: v | 8,
        lambda v: v & 12,
        lambda v: v ^ 1,
    ):
        want = f(want)
    assert alias is x
    assert alias.tolist() == want.tolist()
    f = mx.array([1.0, 2.0])
    g = f
    f /= 4
    assert g.tolist() == [0.25, 0.5]


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
def test_at_updates_combine_repeated_positions(op):
    rng = np.random.default_rng(9)
    a = rng.uniform(1, 2, (6, 4)).astype(np.float32)
    rows = np.array([0, 2, 2, 5, 0])
    v = rng.uniform(1, 2, (5, 4)).astype(np.float32)
    want = a.astype(np.float64)
    ufunc = {
        "add": np.add,
        "subtract": np.subtract,
        "multiply": np.multiply,
        "divide": np.divide,
        "maximum": np.maximum,
        "minimum": np.minimum,
    }[op]
    ufunc.at(want, rows, v)
    got = getattr(mx.array(a).at[mx.array(rows)], op)(mx.array(v))
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5)
    # Mixed indices (an array with a slice and an integer) and a broadcast value.
    got = getattr(mx.array(a).at[mx.array([1, 1]), 1:3], op)(2.0)
    want = a.astype(np.float64)
    ufunc.at(want, (np.array([1, 1]), slice(1, 3)), 2.0)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint16", "float16", "bool_"])
def test_scatter_reductions_per_dtype(dtype):
    base = np.array([3, 1, 2, 0], dtype=dtype.rstrip("_"))
    x = mx.array(base)
    upd = np.array([2, 5, 1], dtype=dtype.rstrip("_"))
    idx = np.array([1, 1, 3])
    for op, uf in (("maximum", np.maximum), ("minimum", np.minimum)):
        want = base.copy()
        uf.at(want, idx, upd)
        assert getattr(x.at[mx.array(idx)], op)(mx.array(upd)).tolist() == want.tolist()


def test_at_needs_an_index():
    with pytest.raises(ValueError, match="index the array first"):
        mx.array([1, 2]).at.add(1)
    assert mx.array(1).at[None].add(1).item() == 2


def test_mask_assignment_with_one_value_per_selected_position():
    a = mx.array([1.0, 2.0, 3.0])
    a[mx.array([True, False, True])] = mx.array([5.0, 6.0])
    assert a.tolist() == [5.0, 2.0, 6.0]
    m = mx.zeros((3, 2))
    m[mx.array([False, True, True])] = mx.array([[1.0, 2.0], [3.0, 4.0]])
    assert m.tolist() == [[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]


def test_mask_assignment_fills_selected_positions_in_row_major_order():
    # A value reaching into the mask's axes holds one row per selected position, in
    # NumPy's (row-major) order, even where it would also broadcast against the array.
    rng = np.random.default_rng(3)
    for mshape, ashape in [((2, 2), (2, 2)), ((3, 4), (3, 4)), ((2, 3), (2, 3, 5))]:
        a = rng.standard_normal(ashape).astype(np.float32)
        mask = rng.random(mshape) < 0.5
        mask.flat[0] = True
        vals = rng.standard_normal((int(mask.sum()),) + ashape[len(mshape) :]).astype(np.float32)
        x = mx.array(a)
        x[mx.array(mask)] = mx.array(vals)
        a[mask] = vals
        np.testing.assert_array_equal(np.array(x), a)


def test_mask_assignment_of_nothing_keeps_the_shape():
    a = mx.array([5.0])
    a[mx.array([False])] = mx.array([], dtype=mx.float32)
    assert a.tolist() == [5.0]
    b = mx.array([[5.0, 6.0]])
    b[mx.array([False])] = mx.zeros((0, 2))
    assert b.tolist() == [[5.0, 6.0]]


def test_integer_and_array_indices_beside_an_empty_slice():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = mx.array(a)
    for key in [(0, [0], slice(4, None)), ([0], slice(3, None), 0), (1, [2, 0], slice(1, 1))]:
        mkey = tuple(mx.array(k) if isinstance(k, list) else k for k in key)
        assert x[mkey].shape == a[key].shape
        y = mx.array(a)
        y[mkey] = 7.0
        b = a.copy()
        b[key] = 7.0
        np.testing.assert_array_equal(np.array(y), b)


def test_inplace_matmul_updates_the_object():
    a = mx.array([[1.0, 2.0], [3.0, 4.0]])
    b = a
    b @= a
    assert a.tolist() == [[7.0, 10.0], [15.0, 22.0]] and a is b
    with pytest.raises(ValueError):
        v = mx.ones((2, 3))
        v @= mx.ones((3, 1))


def test_setitem_updates_in_place_only_when_nothing_else_reads_the_buffer():
    # Views and other holders of the old buffer keep their values...
    y = mx.zeros((4,))
    mx.eval(y)
    view, shaped = y[1:3], y.reshape(2, 2)
    y[1:2] = mx.array([5.0])
    mx.eval(y)
    np.testing.assert_array_equal(np.array(y), [0, 5, 0, 0])
    np.testing.assert_array_equal(np.array(view), [0, 0])
    np.testing.assert_array_equal(np.array(shaped), [[0, 0], [0, 0]])
    # ...and an array held by nothing else is written where it lies (a KV cache row per step).
    with mx.stream(mx.cpu):
        x = mx.zeros((1000,))
        mx.eval(x)
        before = np.from_dlpack(x).ctypes.data
        x[5:6] = mx.array([1.0])
        mx.eval(x)
        assert np.from_dlpack(x).ctypes.data == before
    assert np.array(x)[5] == 1 and np.array(x).sum() == 1


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_basic_slice_assignment_matches_numpy(data):
    shape = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    index = []
    for n in shape[: data.draw(st.integers(1, len(shape)))]:
        start = data.draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        stop = data.draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        step = data.draw(st.one_of(st.none(), st.sampled_from([1, 2, -1, -2])))
        index.append(slice(start, stop, step))
    index = tuple(index)
    a = RNG.standard_normal(shape).astype(np.float32)
    region = a[index].shape
    v = RNG.standard_normal(region[data.draw(st.integers(0, len(region))) :]).astype(np.float32)
    want = a.copy()
    want[index] = v
    x = mx.array(a)
    x[index] = mx.array(v)
    np.testing.assert_array_equal(np.array(x), want)


def test_basic_slice_assignment_reads_before_it_writes_and_differentiates():
    x = mx.arange(10.0)
    x[2:5] = x[0:3]  # the value is a view of the array being written
    np.testing.assert_array_equal(np.array(x), [0, 1, 0, 1, 2, 5, 6, 7, 8, 9])

    def f(a, u):
        t = a * 1
        t[1:3] = u
        return (t**2).sum()

    ga, gu = mx.grad(f, argnums=(0, 1))(mx.arange(5.0), mx.array([7.0, 8.0]))
    np.testing.assert_array_equal(np.array(ga), [0, 0, 0, 6, 8])
    np.testing.assert_array_equal(np.array(gu), [14, 16])
    with pytest.raises(ValueError, match="setitem"):
        y = mx.zeros((4, 3))
        y[1:3] = mx.ones((3, 3))


def test_basic_slice_assignment_is_one_node_on_every_stream():
    """A KV cache's row update is a SliceUpdate on the default device (CPU or GPU), with a
    negative step and a broadcast value too; integer indices keep the scatter form."""
    cache = mx.zeros((2, 3, 16, 4))
    cache[..., 5:6, :] = mx.ones((2, 3, 1, 4))
    assert "SliceUpdate" in mx._core._graph_ops([cache])
    want = np.zeros((2, 3, 16, 4), np.float32)
    want[..., 5:6, :] = 1
    np.testing.assert_array_equal(np.array(cache), want)
    cache[:, ::-2, 3:1:-1] = mx.array([7.0, 8.0, 9.0, 10.0])
    want[:, ::-2, 3:1:-1] = [7.0, 8.0, 9.0, 10.0]
    np.testing.assert_array_equal(np.array(cache), want)
    cache[0] = 1.0
    assert "SliceUpdate" not in mx._core._graph_ops([cache])


class _Index:
    """An object usable as an index through ``__index__`` only."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


def test_slice_bounds_of_every_integer_kind_and_their_errors():
    """Slice bounds are Python ints (read from the slice directly), bools, NumPy integers or
    any object with ``__index__``, for reading and for assignment; bounds past int32 raise
    ValueError, and floats and strings TypeError (as in NumPy: ``int()`` would truncate 1.5
    and parse "3")."""
    x_np = np.arange(20, dtype=np.int32)
    x = mx.array(x_np)
    for s in [
        slice(2, 15, 3),
        slice(np.int64(2), np.int32(15), np.int8(3)),
        slice(_Index(2), _Index(15), _Index(3)),
        slice(True, 5),
        slice(-3, None),
        slice(None, None, -2),
        slice(None, -25),
    ]:
        np.testing.assert_array_equal(np.array(x[s]), x_np[s])
        np.testing.assert_array_equal(np.array(x[None, s][0]), x_np[None, s][0])
    y = mx.zeros((4, 20), dtype=mx.int32)
    y[..., np.int64(1) : _Index(19) : 6] = 7
    want = np.zeros((4, 20), np.int32)
    want[..., 1:19:6] = 7
    np.testing.assert_array_equal(np.array(y), want)
    with pytest.raises(ValueError, match="int32"):
        x[: 2**40]
    with pytest.raises(ValueError, match="int32"):
        x[np.int64(-(2**35)) :]
    for bad in (slice(1.5, 3), slice(0, "3"), slice(None, None, 2.0)):
        with pytest.raises(TypeError, match="slice bounds must be integers"):
            x[bad]
