// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Native;

namespace Microsoft.ML.Distillation.Tests.Native;

[TestClass]
public sealed class OpenMpWaitPolicyTests
{
    [TestMethod]
    public void PassivePolicy_IsChosenOnlyWhenTheUserSetNoWaitVariable()
    {
        static Func<string, string?> Env(params (string Name, string Value)[] set) => name => set.FirstOrDefault(s => s.Name == name).Value;

        Assert.IsTrue(OpenMpWaitPolicy.ShouldApply(Env()));
        Assert.IsTrue(OpenMpWaitPolicy.ShouldApply(Env(("OMP_NUM_THREADS", "2"))), "a thread count is not a wait policy");
        Assert.IsFalse(OpenMpWaitPolicy.ShouldApply(Env(("OMP_WAIT_POLICY", "ACTIVE"))));
        Assert.IsFalse(OpenMpWaitPolicy.ShouldApply(Env(("OMP_WAIT_POLICY", ""))), "set but empty is still the user's");
        Assert.IsFalse(OpenMpWaitPolicy.ShouldApply(Env(("GOMP_SPINCOUNT", "300000"))));
        Assert.IsFalse(OpenMpWaitPolicy.ShouldApply(Env(("KMP_BLOCKTIME", "200"))));
    }

    [TestMethod]
    public void OnLinux_TheCLibrarySeesThePassivePolicy_UnlessTheProcessStartedWithOne()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("The policy is set through the C library on Linux and macOS only.");
        _ = new MLContext().Distillation;   // this library is in use, so its module initializer has run

        // On Unix, .NET's own view of the environment is the one the process started with; the policy is set below it.
        bool userChose = !OpenMpWaitPolicy.ShouldApply(Environment.GetEnvironmentVariable);
        if (userChose)
        {
            Assert.IsFalse(OpenMpWaitPolicy.Applied, "a wait variable was set when the process started: left alone");
            return;
        }

        Assert.IsTrue(OpenMpWaitPolicy.Applied);
        Assert.AreEqual("PASSIVE", NativeEnvironment.Get("OMP_WAIT_POLICY"));
    }
}
