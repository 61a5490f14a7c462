// Licensed under the MIT license. See LICENSE in the repository root.

using System.Xml.Linq;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Native;

/// <summary>
/// The library's package definition: its dependency list must not depend on the OS that packs it (no OS-conditional package
/// reference), the native libtorch is left to the application, and the package has a readme. eng/check-package-consumer.sh packs
/// it and checks the nuspec itself.
/// </summary>
[TestClass]
public sealed class PackageDefinitionTests
{
    private static XDocument LibraryProject
        => XDocument.Load(Path.Combine(SourceTree.Root, "src", "Microsoft.ML.Distillation", "Microsoft.ML.Distillation.csproj"));

    [TestMethod]
    public void PackageReferences_HaveNoConditions_SoTheDependencyListIsTheSameOnEveryOS()
    {
        var references = LibraryProject.Descendants("PackageReference").ToList();

        Assert.IsNotEmpty(references);
        foreach (var reference in references)
        {
            string name = reference.Attribute("Include")!.Value;
            Assert.IsNull(reference.Attribute("Condition"), $"PackageReference '{name}' is conditional");
            Assert.IsNull(reference.Parent!.Attribute("Condition"), $"PackageReference '{name}' sits in a conditional ItemGroup");
            Assert.IsFalse(name.StartsWith("libtorch-", StringComparison.Ordinal) || name.StartsWith("TorchSharp-", StringComparison.Ordinal),
                $"'{name}' is a native libtorch: the application picks it");
        }
        var names = references.Select(r => r.Attribute("Include")!.Value).ToList();
        CollectionAssert.IsSubsetOf(new[] { "TorchSharp", "Microsoft.ML.OnnxRuntime", "HarfBuzzSharp.NativeAssets.Linux", "HarfBuzzSharp.NativeAssets.Win32", "HarfBuzzSharp.NativeAssets.macOS" }, names);
    }

    [TestMethod]
    public void Package_HasItsReadme()
    {
        string readme = LibraryProject.Descendants("PackageReadmeFile").Single().Value;
        string path = Path.Combine(SourceTree.Root, "src", "Microsoft.ML.Distillation", readme);

        Assert.IsTrue(File.Exists(path), path);
        StringAssert.Contains(File.ReadAllText(path), "libtorch-cpu-linux-x64", "the readme says which native libtorch to add");
    }
}
