#!/usr/bin/env bash
# Packs Microsoft.ML.Distillation, checks that its dependency list names no OS-specific package (it must not depend on the OS
# that packs it), then builds, runs and publishes a fresh console app that references the package and a native libtorch
# (libtorch-cpu-linux-x64, the application's choice), to show that the buildTransitive fix-up makes TorchSharp load for consumers
# too (Debian 12 / Ubuntu 22.04) and that training, ConvertToOnnxScoring, Model.Save/Load and scoring work with nothing else.
# usage: bash eng/check-package-consumer.sh      (needs the same NuGet feed as the repository; takes a few minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet pack "$root/src/Microsoft.ML.Distillation" -c Release -o "$work/pkgs" -p:PackageVersion=0.0.0-consumer-check >/dev/null
nuspec=$(unzip -p "$work/pkgs/Microsoft.ML.Distillation.0.0.0-consumer-check.nupkg" Microsoft.ML.Distillation.nuspec)
deps=$(echo "$nuspec" | grep -o 'dependency id="[^"]*"' | sed 's/dependency id="//; s/"//' | sort | tr '\n' ' ')
echo "package dependencies: $deps"
if echo "$deps" | grep -Eq 'libtorch-|TorchSharp-cpu|TorchSharp-cuda'; then
  echo "the package depends on a native libtorch; that is the application's choice" >&2; exit 1
fi
for required in TorchSharp Microsoft.ML.OnnxRuntime HarfBuzzSharp.NativeAssets.Linux HarfBuzzSharp.NativeAssets.Win32 HarfBuzzSharp.NativeAssets.macOS; do
  echo " $deps" | grep -q " $required " || { echo "the package's dependencies lack $required" >&2; exit 1; }
done
echo "$nuspec" | grep -q '<readme>PACKAGE.md</readme>' || { echo "the package has no readme" >&2; exit 1; }
mkdir -p "$work/app"
cat > "$work/app/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/pkgs" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
XML
cat > "$work/app/app.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><NoWarn>NU1603</NoWarn></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.ML.Distillation" Version="0.0.0-consumer-check" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
  </ItemGroup>
</Project>
XML
cat > "$work/app/Program.cs" <<'CS'
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Distillation;
var ml = new MLContext(seed: 1);
var rows = Enumerable.Range(0, 32).Select(i => new Row { Label = i % 2 == 0 ? "even" : "odd", Image = Enumerable.Range(0, 64).Select(p => (float)((p * (i % 2 + 1)) % 7)).ToArray() }).ToList();
var data = ml.Data.LoadFromEnumerable(rows);
var model = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Distillation.Teacher(new TeacherOptions { Architecture = "resnet8", Epochs = 1, BatchSize = 16 })).Fit(data);
using var servable = ml.Distillation.ConvertToOnnxScoring(model);
ml.Model.Save(servable, data.Schema, "servable.zip");
var loaded = ml.Model.Load("servable.zip", out _);
var predicted = loaded.Transform(data).GetColumn<uint>("PredictedLabel").Count();
System.Console.WriteLine($"trained, converted, saved, loaded and scored {predicted} rows without TorchSharp in the scoring pipeline");

public sealed class Row
{
    public string Label { get; set; } = "";
    [VectorType(1, 8, 8)] public float[] Image { get; set; } = [];
}
CS
export NUGET_PACKAGES="$work/nuget"
cd "$work/app"
dotnet build 2>&1 | grep -E "error|Microsoft.ML.Distillation:" || true
dotnet run --no-build
dotnet publish -c Release -o "$work/pub" 2>&1 | grep -E "error|Microsoft.ML.Distillation:" || true
"$work/pub/app"
echo "package consumer check: OK"
