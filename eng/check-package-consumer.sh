#!/usr/bin/env bash
# Packs Microsoft.ML.Distillation, then builds, runs and publishes a fresh console app that references only the
# package, to show that the buildTransitive fix-up makes TorchSharp load for consumers too (Debian 12 / Ubuntu 22.04).
# usage: bash eng/check-package-consumer.sh      (needs the same NuGet feed as the repository; takes a few minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet pack "$root/src/Microsoft.ML.Distillation" -c Release -o "$work/pkgs" -p:PackageVersion=0.0.0-consumer-check >/dev/null
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
  <ItemGroup><PackageReference Include="Microsoft.ML.Distillation" Version="0.0.0-consumer-check" /></ItemGroup>
</Project>
XML
cat > "$work/app/Program.cs" <<'CS'
using Microsoft.ML;
using Microsoft.ML.Distillation;
var catalog = new MLContext().Distillation;
using var t = TorchSharp.torch.ones(2, 2);
System.Console.WriteLine($"{catalog.GetType().Name}: torch sum = {t.sum().item<float>()}");
CS
export NUGET_PACKAGES="$work/nuget"
cd "$work/app"
dotnet build 2>&1 | grep -E "error|Microsoft.ML.Distillation:" || true
dotnet run --no-build
dotnet publish -c Release -o "$work/pub" 2>&1 | grep -E "error|Microsoft.ML.Distillation:" || true
"$work/pub/app"
echo "package consumer check: OK"
