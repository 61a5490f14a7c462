// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.InteropServices;

namespace Microsoft.ML.Distillation.Native;

/// <summary>
/// The process environment as the C library sees it: what native runtimes (OpenMP, glibc's malloc) read. On Unix, .NET's
/// <see cref="Environment.GetEnvironmentVariable(string)"/> reads a managed copy that <c>setenv</c> does not update, and the other way round.
/// </summary>
internal static class NativeEnvironment
{
    /// <summary>The variable's value as the C library sees it (null when unset). Throws <see cref="DllNotFoundException"/> or
    /// <see cref="EntryPointNotFoundException"/> where there is no C library to ask.</summary>
    public static string? Get(string name)
    {
        IntPtr value = GetEnv(name);
        return value == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(value);
    }

    /// <summary>Sets the variable in the C library's environment; false when <c>setenv</c> failed.</summary>
    public static bool Set(string name, string value, bool overwrite) => SetEnv(name, value, overwrite ? 1 : 0) == 0;

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
