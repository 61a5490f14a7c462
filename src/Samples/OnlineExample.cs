// Licensed under the MIT license. See LICENSE in the repository root.
//
// No teacher: two networks trained together, teaching each other (online distillation), on the embedded Fashion-MNIST subset.
// A validation set picks the peer that Fit returns; FitPeers gives every peer.
//
//   dotnet run -c Release --project src/Samples -- online [hsakd|mcl|ffl] [EPOCHS]

using System.Globalization;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Samples;

public static class OnlineExample
{
    /// <summary>
    /// Trains two resnet8 peers with <paramref name="method"/> (a validation split of the training rows picks the returned one), prints
    /// each peer's validation accuracy, and returns the chosen peer's test metrics with its index.
    /// </summary>
    public static (MulticlassClassificationMetrics Metrics, int SelectedPeer) Run(OnlineMethod method = OnlineMethod.Hsakd, int trainRows = 2000,
        int validationRows = 500, int testRows = 500, int epochs = 3, Action<string>? log = null)
    {
        var ml = new MLContext(seed: 1);
        var rows = FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "train", trainRows + validationRows);
        var test = FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "t10k", testRows);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows);
        var train = keys.Transform(ml.Data.TakeRows(rows, trainRows));
        var validation = keys.Transform(ml.Data.SkipRows(rows, trainRows));

        var online = ml.Distillation.Online(new OnlineOptions
        {
            Method = method,
            Architecture = "resnet8",
            PeerCount = 2,
            Epochs = epochs,
            ValidationSet = validation,
            MetricsCallback = m => log?.Invoke("  " + m),
        });
        using var peers = online.FitPeers(train);
        for (int m = 0; m < peers.Peers.Count; m++)
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"peer {m} ({peers.Architectures[m]}): validation accuracy {peers.ValidationAccuracies![m]:P2}"));

        // The chosen peer is an ordinary fitted model: append it to the key mapping for scoring, save or convert it like any other.
        var model = keys.Append(peers.Selected);
        return (ml.MulticlassClassification.Evaluate(model.Transform(test)), peers.SelectedIndex);
    }

    public static int RunCommandLine(string[] args)
    {
        var method = OnlineMethod.Hsakd;
        if (args.Length > 0 && !Enum.TryParse(args[0], ignoreCase: true, out method))
        {
            Console.Error.WriteLine($"Unknown online method '{args[0]}': {string.Join(", ", Enum.GetNames<OnlineMethod>()).ToLowerInvariant()}.");
            return 2;
        }
        int epochs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var (metrics, selected) = Run(method, epochs: epochs, log: Console.WriteLine);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method} online, peer {selected} returned: test accuracy {metrics.MicroAccuracy:P2}"));
        return 0;
    }
}
