// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Selection;

/// <summary>The accuracy-versus-cost front: the items no other item beats on both at once.</summary>
internal static class ParetoFront
{
    /// <summary>
    /// The items that no other item dominates, by cost ascending (then accuracy descending, then input order). An item dominates
    /// another when it is at least as accurate and at most as costly, and better on one of the two. Equal points dominate neither
    /// each other, so all of them are on the front.
    /// </summary>
    public static IReadOnlyList<T> Of<T>(IReadOnlyList<T> items, Func<T, double> accuracy, Func<T, double> cost)
    {
        var front = new List<(T Item, int Order)>();
        for (int i = 0; i < items.Count; i++)
        {
            double a = accuracy(items[i]), c = cost(items[i]);
            bool dominated = false;
            for (int j = 0; j < items.Count && !dominated; j++)
            {
                double aj = accuracy(items[j]), cj = cost(items[j]);
                dominated = j != i && aj >= a && cj <= c && (aj > a || cj < c);
            }

            if (!dominated)
                front.Add((items[i], i));
        }

        return front.OrderBy(f => cost(f.Item)).ThenByDescending(f => accuracy(f.Item)).ThenBy(f => f.Order).Select(f => f.Item).ToArray();
    }
}
