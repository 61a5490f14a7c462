// Licensed under the MIT license. See LICENSE in the repository root.

using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// Walks a fitted model and replaces every <see cref="ImageClassifierTransformer"/> with its <see cref="OnnxScoringChain"/>,
/// rebuilding the transformer chains around it with their scopes.
/// </summary>
internal static class OnnxScoringConversion
{
    private static readonly MethodInfo s_convertChain =
        typeof(OnnxScoringConversion).GetMethod(nameof(ConvertChain), BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>The converted model; <paramref name="converted"/> counts the classifiers replaced.</summary>
    public static ITransformer Convert(MLContext mlContext, ITransformer model, ref int converted)
    {
        if (model is ImageClassifierTransformer classifier)
        {
            converted++;
            return OnnxScoringChain.Build(mlContext, classifier.Model);
        }

        var type = model.GetType();
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(TransformerChain<>))
        {
            object?[] arguments = [mlContext, model, converted];
            try
            {
                var result = (ITransformer)s_convertChain.MakeGenericMethod(type.GetGenericArguments()[0]).Invoke(null, arguments)!;
                converted = (int)arguments[2]!;
                return result;
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
        }

        return model;
    }

    /// <summary>
    /// A chain with each member converted. The scope of each member is read back through the public <c>GetModelFor</c>
    /// (a member is in the chain for a scope exactly when its scope has that flag).
    /// </summary>
    private static TransformerChain<ITransformer> ConvertChain<TLast>(MLContext mlContext, TransformerChain<TLast> chain, ref int converted)
        where TLast : class, ITransformer
    {
        var members = chain.ToList();
        var scopes = new TransformerScope[members.Count];
        foreach (var flag in new[] { TransformerScope.Training, TransformerScope.Testing, TransformerScope.Scoring })
        {
            var inScope = chain.GetModelFor(flag).ToList();
            for (int i = 0, j = 0; i < members.Count && j < inScope.Count; i++)
            {
                if (ReferenceEquals(members[i], inScope[j]))
                {
                    scopes[i] |= flag;
                    j++;
                }
            }
        }

        var convertedMembers = new ITransformer[members.Count];
        for (int i = 0; i < members.Count; i++)
        {
            convertedMembers[i] = Convert(mlContext, members[i], ref converted);
        }

        return new TransformerChain<ITransformer>(convertedMembers, scopes);
    }
}
