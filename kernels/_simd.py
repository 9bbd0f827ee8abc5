"""Explicit SIMD butterflies for the CPU FWHT, written as LLVM vector IR through numba.

LLVM's loop vectoriser leaves butterflies with strides below a vector width
(1, 2, 4, 8) scalar and, for short inner loops (stride 16..128), falls into the
scalar remainder. Emitting ``<16 x float>`` loads, lane shuffles and add/sub
directly gives hand-vectorised code (the FFHT approach) that LLVM lowers to
whatever the host has: AVX-512, AVX2 or NEON.

Each intrinsic works on vectors of ``LANES`` consecutive elements:

* ``wht_lanes(x, off, scale)``: the 16-point WHT inside ``x[off:off+16]``
  (strides 1, 2, 4, 8), times ``scale``: four shuffle + fma steps.
* ``butterfly_k(x, off, h, scale)`` for k = 1..4: the k stages with strides
  ``h, 2h, .., 2^(k-1) h`` across the 2^k vectors at ``off + t*h``.
* ``wht_256(x, off, 16, scale)``: the 256-point WHT of ``x[off:off+256]``, times
  ``scale`` (8 stages per load/store).

Also for the selection and count sketch kernels:

* ``abs_ge_mask(x, off, t)``: bit l set iff ``|x[off+l]| >= t`` for the 16 lanes,
  t >= 0 (two vector compares instead of 16 branches; NaN compares false).
* ``threshold_lanes(out, x, off, t)`` and ``threshold_axpy_lanes(out, x, y, off, a, t)``:
  u = x (or x + a*y, rounded as NumPy does: a product, then a sum, no FMA) for 16
  lanes; ``out[off+l] = u_l if |u_l| >= t else 0``; returns the mask as above. One
  vector store: scalar stores read back by a vector load would stall the
  store-to-load forwarding. ``axpy_abs_ge_mask(x, y, off, a, t)``: the mask alone.
* ``prefetch(x, i)``: a hint to fetch the cache line of ``x[i]`` (``llvm.prefetch``;
  never faults, a no-op where the target has no prefetch instruction).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

LANES = 16
_I32 = ir.IntType(32)


def _vector_ptr(context, builder, arrty, arr, off):
    ary = context.make_array(arrty)(context, builder, arr)
    vty = ir.VectorType(context.get_value_type(arrty.dtype), LANES)
    return builder.bitcast(builder.gep(ary.data, [off]), vty.as_pointer()), vty


def _stage_in_lanes(builder, v, vty, h):
    # out[i] = v[i ^ h] + (+1 if bit h of i is clear else -1) * v[i]
    partner = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, LANES), [i ^ h for i in range(LANES)]))
    sign = ir.Constant(vty, [(-1.0 if i & h else 1.0) for i in range(LANES)])
    return builder.fadd(partner, builder.fmul(v, sign, flags=("fast",)), flags=("fast",))


@intrinsic
def wht_lanes(typingctx, arr, off, scale):
    sig = types.void(arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        ptr, vty = _vector_ptr(context, builder, signature.args[0], args[0], args[1])
        v = builder.load(ptr, align=1)
        v = builder.fmul(v, _broadcast(builder, vty, args[2]), flags=("fast",))
        h = 1
        while h < LANES:
            v = _stage_in_lanes(builder, v, vty, h)
            h *= 2
        builder.store(v, ptr, align=1)
        return context.get_dummy_value()

    return sig, codegen


def _broadcast(builder, vty, value):
    s = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(s, s, ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))


def _make_butterfly(k: int, in_lanes: bool = False):
    """Intrinsic for k cross-vector stages; with ``in_lanes`` the 4 in-lane stages and a
    scale come first (k = 4 then does a whole 256-point WHT per load/store)."""

    def typer(typingctx, arr, off, h, scale):
        sig = types.void(arr, types.intp, types.intp, arr.dtype)

        def codegen(context, builder, signature, args):
            arrty = signature.args[0]
            arr_v, off_v, h_v, scale_v = args
            ptrs = []
            for t in range(1 << k):
                o = builder.add(off_v, builder.mul(h_v, ir.Constant(h_v.type, t)))
                p, vty = _vector_ptr(context, builder, arrty, arr_v, o)
                ptrs.append(p)
            v = [builder.load(p, align=1) for p in ptrs]
            if in_lanes:
                sv = _broadcast(builder, vty, scale_v)
                for t in range(1 << k):
                    v[t] = builder.fmul(v[t], sv, flags=("fast",))
                    lane = 1
                    while lane < LANES:
                        v[t] = _stage_in_lanes(builder, v[t], vty, lane)
                        lane *= 2
            step = 1
            while step < (1 << k):
                for t in range(1 << k):
                    if t & step:
                        continue
                    a, b = v[t], v[t + step]
                    v[t] = builder.fadd(a, b, flags=("fast",))
                    v[t + step] = builder.fsub(a, b, flags=("fast",))
                step *= 2
            for p, val in zip(ptrs, v):
                builder.store(val, p, align=1)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"butterfly_{k}" + ("_lanes" if in_lanes else "")
    return intrinsic(typer)


# ``scale`` is ignored unless in_lanes (kept so that all share one signature)
butterfly_1 = _make_butterfly(1)
butterfly_2 = _make_butterfly(2)
butterfly_3 = _make_butterfly(3)
butterfly_4 = _make_butterfly(4)
wht_256 = _make_butterfly(4, in_lanes=True)


@intrinsic
def abs_ge_mask(typingctx, arr, off, t):
    sig = types.uint32(arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        ptr, vty = _vector_ptr(context, builder, signature.args[0], args[0], args[1])
        return _mask_bits(builder, _abs_ge(builder, vty, builder.load(ptr, align=1), args[2]))

    return sig, codegen

def _abs_ge(builder, vty, v, t_scalar):
    t = _broadcast(builder, vty, t_scalar)
    # |v| >= t  <=>  v >= t or v <= -t  (t >= 0; NaN fails both)
    return builder.or_(builder.fcmp_ordered(">=", v, t), builder.fcmp_ordered("<=", v, builder.fneg(t)))


def _mask_bits(builder, cmp):
    return builder.zext(builder.bitcast(cmp, ir.IntType(LANES)), ir.IntType(32))


def _store_selected(context, builder, arrty, arr, off, cmp, v, vty):
    ptr, _ = _vector_ptr(context, builder, arrty, arr, off)
    builder.store(builder.select(cmp, v, ir.Constant(vty, None)), ptr, align=1)


@intrinsic
def threshold_lanes(typingctx, out, arr, off, t):
    sig = types.uint32(out, arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        out_v, arr_v, off_v, t_v = args
        ptr, vty = _vector_ptr(context, builder, signature.args[1], arr_v, off_v)
        v = builder.load(ptr, align=1)
        cmp = _abs_ge(builder, vty, v, t_v)
        _store_selected(context, builder, signature.args[0], out_v, off_v, cmp, v, vty)
        return _mask_bits(builder, cmp)

    return sig, codegen


def _axpy_lanes(context, builder, signature, x_v, y_v, off_v, a_v):
    px, vty = _vector_ptr(context, builder, signature.args[0], x_v, off_v)
    py, _ = _vector_ptr(context, builder, signature.args[1], y_v, off_v)
    ay = builder.fmul(_broadcast(builder, vty, a_v), builder.load(py, align=1))
    return builder.fadd(builder.load(px, align=1), ay), vty


@intrinsic
def axpy_abs_ge_mask(typingctx, x, y, off, a, t):
    sig = types.uint32(x, y, types.intp, x.dtype, x.dtype)

    def codegen(context, builder, signature, args):
        x_v, y_v, off_v, a_v, t_v = args
        v, vty = _axpy_lanes(context, builder, signature, x_v, y_v, off_v, a_v)
        return _mask_bits(builder, _abs_ge(builder, vty, v, t_v))

    return sig, codegen


@intrinsic
def threshold_axpy_lanes(typingctx, out, x, y, off, a, t):
    sig = types.uint32(out, x, y, types.intp, x.dtype, x.dtype)

    def codegen(context, builder, signature, args):
        out_v, x_v, y_v, off_v, a_v, t_v = args
        inner = types.uint32(*signature.args[1:])
        v, vty = _axpy_lanes(context, builder, inner, x_v, y_v, off_v, a_v)
        cmp = _abs_ge(builder, vty, v, t_v)
        _store_selected(context, builder, signature.args[0], out_v, off_v, cmp, v, vty)
        return _mask_bits(builder, cmp)

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, idx):
    sig = types.void(arr, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = ir.IntType(8).as_pointer()
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), i8p)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32])
        try:
            fn = builder.module.get_global("llvm.prefetch.p0")
        except KeyError:
            fn = ir.Function(builder.module, fnty, "llvm.prefetch.p0")
        # read (0) with high locality (3) into the data cache (1)
        builder.call(fn, [ptr, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return sig, codegen
