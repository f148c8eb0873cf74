// Interop.cs: the internal plumbing every capability file shares, so each of them does the native
// calls one way: handle ownership (RaiHandle / NativeObject), typed pointers over pinned memory
// (P), pinned arrays (Pins), text that librai hands out (OwnedText) and the size-query protocol
// (SizedOutput).
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using N = Rai.Native;

namespace Rai
{
    /// <summary>A SafeHandle for any librai object: released exactly once with its destroy
    /// function. It can also hold what the object borrows (other handles, pinned arrays), which
    /// are let go only after the object is destroyed, so a borrowed context or parameter array
    /// can never be freed under a live object.</summary>
    internal sealed class RaiHandle : SafeHandle
    {
        private readonly Action<IntPtr> destroy;
        private readonly List<SafeHandle> borrowed = new List<SafeHandle>();
        private readonly List<GCHandle> pins = new List<GCHandle>();
        private readonly object gate = new object();

        public RaiHandle(Action<IntPtr> destroy) : base(IntPtr.Zero, true) { this.destroy = destroy; }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        internal void Adopt(IntPtr p) { SetHandle(p); }

        /// <summary>Keeps <paramref name="other"/> alive (not released) until this handle is released.</summary>
        internal IntPtr Borrow(SafeHandle other, string objectName)
        {
            bool added = false;
            if (other.IsClosed) throw new ObjectDisposedException(objectName);
            try
            {
                other.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                throw new ObjectDisposedException(objectName);
            }
            lock (gate) borrowed.Add(other);
            return other.DangerousGetHandle();
        }

        /// <summary>Pins <paramref name="array"/> until this handle is released (librai keeps its address).</summary>
        internal IntPtr PinForLife(Array array)
        {
            GCHandle pin = GCHandle.Alloc(array, GCHandleType.Pinned);
            lock (gate) pins.Add(pin);
            return pin.AddrOfPinnedObject();
        }

        protected override bool ReleaseHandle()
        {
            destroy(handle);
            lock (gate)
            {
                foreach (GCHandle pin in pins) pin.Free();
                pins.Clear();
                foreach (SafeHandle h in borrowed) h.DangerousRelease();
                borrowed.Clear();
            }
            return true;
        }
    }

    /// <summary>Base of every idiomatic wrapper of a librai handle: IDisposable, idempotent
    /// Dispose, ObjectDisposedException (naming the type) on use after Dispose, and a finalizer
    /// (the SafeHandle's) as the safety net.</summary>
    public abstract class NativeObject : IDisposable
    {
        internal readonly RaiHandle Handle;

        internal NativeObject(Action<IntPtr> destroy) { Handle = new RaiHandle(destroy); }

        internal HandleLease Lease() { return new HandleLease(Handle, GetType().FullName); }

        /// <summary><paramref name="f"/> over the leased handles of this object and
        /// <paramref name="other"/> (ArgumentNullException naming "other" for null).</summary>
        internal T WithOther<T>(NativeObject other, Func<HandleLease, HandleLease, T> f)
        {
            if (other == null) throw new ArgumentNullException("other");
            using (var a = Lease())
            using (var b = other.Lease())
                return f(a, b);
        }

        public bool IsDisposed { get { return Handle.IsClosed; } }

        /// <summary>Destroys the object; later calls throw ObjectDisposedException. Idempotent.</summary>
        public void Dispose() { Handle.Dispose(); }
    }

    /// <summary>Typed SWIG pointers over raw addresses (pinned arrays, locals, leased handles). The
    /// SWIG wrappers only carry the address; they never own what it points to.</summary>
    internal static unsafe class P
    {
        public static N.SWIGTYPE_p_signed_char I8(void* p) { return new N.SWIGTYPE_p_signed_char((IntPtr)p, false); }
        public static N.SWIGTYPE_p_unsigned_char U8(void* p) { return new N.SWIGTYPE_p_unsigned_char((IntPtr)p, false); }
        public static N.SWIGTYPE_p_unsigned_short U16(void* p) { return new N.SWIGTYPE_p_unsigned_short((IntPtr)p, false); }
        public static N.SWIGTYPE_p_int I32(void* p) { return new N.SWIGTYPE_p_int((IntPtr)p, false); }
        public static N.SWIGTYPE_p_unsigned_int U32(void* p) { return new N.SWIGTYPE_p_unsigned_int((IntPtr)p, false); }
        public static N.SWIGTYPE_p_long I64(void* p) { return new N.SWIGTYPE_p_long((IntPtr)p, false); }
        public static N.SWIGTYPE_p_unsigned_long U64(void* p) { return new N.SWIGTYPE_p_unsigned_long((IntPtr)p, false); }
        public static N.SWIGTYPE_p_size_t Size(void* p) { return new N.SWIGTYPE_p_size_t((IntPtr)p, false); }
        public static N.SWIGTYPE_p_float F32(void* p) { return new N.SWIGTYPE_p_float((IntPtr)p, false); }
        public static N.SWIGTYPE_p_double F64(void* p) { return new N.SWIGTYPE_p_double((IntPtr)p, false); }
        public static N.SWIGTYPE_p_void Void(void* p) { return new N.SWIGTYPE_p_void((IntPtr)p, false); }
        public static N.SWIGTYPE_p_void Void(IntPtr p) { return new N.SWIGTYPE_p_void(p, false); }
        public static N.SWIGTYPE_p_p_void VoidPP(void* p) { return new N.SWIGTYPE_p_p_void((IntPtr)p, false); }
        public static N.SWIGTYPE_p_p_char CharPP(void* p) { return new N.SWIGTYPE_p_p_char((IntPtr)p, false); }
        public static N.SWIGTYPE_p_rai_context Ctx(HandleLease l) { return new N.SWIGTYPE_p_rai_context(l.Pointer, false); }
        /// <summary>A context an object borrowed (RaiHandle.Borrow): valid while the object lives.</summary>
        public static N.SWIGTYPE_p_rai_context Ctx(IntPtr borrowed) { return new N.SWIGTYPE_p_rai_context(borrowed, false); }
    }

    /// <summary>Arrays pinned for the duration of one call (GCHandle, no copy); null stays NULL.</summary>
    internal sealed class Pins : IDisposable
    {
        private readonly List<GCHandle> pins = new List<GCHandle>();

        public IntPtr Pin(Array array)
        {
            if (array == null) return IntPtr.Zero;
            GCHandle h = GCHandle.Alloc(array, GCHandleType.Pinned);
            pins.Add(h);
            return h.AddrOfPinnedObject();
        }

        public unsafe void* Ptr(Array array) { return (void*)Pin(array); }

        /// <summary>A NUL-terminated UTF-8 copy of <paramref name="text"/> (null stays NULL).</summary>
        public IntPtr Utf8(string text)
        {
            if (text == null) return IntPtr.Zero;
            byte[] raw = System.Text.Encoding.UTF8.GetBytes(text);
            var z = new byte[raw.Length + 1];
            System.Buffer.BlockCopy(raw, 0, z, 0, raw.Length);
            return Pin(z);
        }

        /// <summary>A pinned array of char* (for `const char *const *names`), or NULL for null.</summary>
        public IntPtr Utf8Array(string[] texts, string argument)
        {
            if (texts == null) return IntPtr.Zero;
            var ptrs = new IntPtr[texts.Length];
            for (int i = 0; i < texts.Length; i++)
            {
                if (texts[i] == null)
                    throw new RaiException(Status.InvalidArgument, argument + "[" + i + "] is null");
                ptrs[i] = Utf8(texts[i]);
            }
            return Pin(ptrs);
        }

        public void Dispose()
        {
            foreach (GCHandle h in pins) h.Free();
            pins.Clear();
        }
    }

    /// <summary>Scalar out-parameters: runs <c>call</c> with a cell for the result, checks the
    /// status and returns what the call wrote.</summary>
    internal static unsafe class Out
    {
        public static long I64(Func<N.SWIGTYPE_p_long, N.rai_status> call) { long v = 0; Library.Check(call(P.I64(&v))); return v; }
        public static float F32(Func<N.SWIGTYPE_p_float, N.rai_status> call) { float v = 0; Library.Check(call(P.F32(&v))); return v; }
    }

    internal static unsafe class OwnedText
    {
        /// <summary>Runs <paramref name="call"/> with a char** cell, returns the text it received
        /// and releases it with rai_free (also when the text is empty).</summary>
        public static string Take(Func<N.SWIGTYPE_p_p_char, N.rai_status> call)
        {
            IntPtr text = IntPtr.Zero;
            try
            {
                Library.Check(call(P.CharPP(&text)));
                return Library.Utf8(text);
            }
            finally
            {
                N.rai.rai_free(P.Void(text));
            }
        }

        /// <summary>A borrowed const char* (valid while its owner lives) as a string; null for NULL.</summary>
        public static string Borrowed(IntPtr text) { return text == IntPtr.Zero ? null : Library.Utf8(text); }
    }

    internal static unsafe class SizedOutput
    {
        /// <summary>The size-query protocol (`out`, `capacity`, `*written`): asks for the size with
        /// a NULL buffer and capacity 0, then fills an array of exactly that many elements.</summary>
        public static T[] Fill<T>(Func<IntPtr, ulong, N.SWIGTYPE_p_size_t, N.rai_status> call) where T : struct
        {
            ulong needed = 0;
            N.rai_status st = call(IntPtr.Zero, 0, P.Size(&needed));
            if (st != N.rai_status.RAI_OK && st != N.rai_status.RAI_ERROR_BUFFER_TOO_SMALL) Library.Check(st);
            var result = new T[needed];
            ulong written = 0;
            using (var pins = new Pins())
                Library.Check(call(result.Length == 0 ? IntPtr.Zero : pins.Pin(result), needed, P.Size(&written)));
            if (written != needed) Array.Resize(ref result, (int)written);
            return result;
        }

        public static byte[] Bytes(Func<IntPtr, ulong, N.SWIGTYPE_p_size_t, N.rai_status> call) { return Fill<byte>(call); }

        /// <summary>The same for functions whose output is a `void *dst` (rai.i maps it to byte[]).</summary>
        public static byte[] Bytes(Func<byte[], ulong, N.SWIGTYPE_p_size_t, N.rai_status> call)
        {
            ulong needed = 0;
            N.rai_status st = call(null, 0, P.Size(&needed));
            if (st != N.rai_status.RAI_OK && st != N.rai_status.RAI_ERROR_BUFFER_TOO_SMALL) Library.Check(st);
            var result = new byte[needed];
            ulong written = 0;
            Library.Check(call(result, needed, P.Size(&written)));
            if (written != needed) Array.Resize(ref result, (int)written);
            return result;
        }
    }
}

namespace Rai
{
    /// <summary>Leases of several objects for one call, and a pinned array of their pointers for
    /// `const T *const *` arguments.</summary>
    internal sealed class Leases : IDisposable
    {
        private readonly System.Collections.Generic.List<HandleLease> leases = new System.Collections.Generic.List<HandleLease>();
        private readonly Pins pins = new Pins();

        public IntPtr Array<T>(System.Collections.Generic.IList<T> objects, string argument) where T : NativeObject
        {
            if (objects == null) throw new ArgumentNullException(argument);
            var ptrs = new IntPtr[Math.Max(objects.Count, 1)];
            for (int i = 0; i < objects.Count; i++)
            {
                if (objects[i] == null) throw new ArgumentNullException(argument + "[" + i + "]");
                HandleLease l = objects[i].Lease();
                leases.Add(l);
                ptrs[i] = l.Pointer;
            }
            return pins.Pin(ptrs);
        }

        public void Dispose()
        {
            foreach (HandleLease l in leases) l.Dispose();
            leases.Clear();
            pins.Dispose();
        }
    }
}
