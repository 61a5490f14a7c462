// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>The repository the tests run from, and the optional Python tools some checks use.</summary>
internal static class SourceTree
{
    /// <summary>The folder holding Distillation.sln, above the test assembly.</summary>
    public static string Root
    {
        get
        {
            var folder = new DirectoryInfo(AppContext.BaseDirectory);
            while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Distillation.sln")))
                folder = folder.Parent;
            return folder?.FullName ?? throw new InvalidOperationException($"The repository root (Distillation.sln) was not found above {AppContext.BaseDirectory}.");
        }
    }

    /// <summary>A python3 that can run <paramref name="imports"/> (e.g. "import cv2, numpy"), Debian's first; null when none can.</summary>
    public static string? PythonThatCan(string imports)
    {
        foreach (string python in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(python, ["-c", imports]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                process.WaitForExit();
                if (process.ExitCode == 0)
                    return python;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // no such interpreter
            }
        }
        return null;
    }
}
