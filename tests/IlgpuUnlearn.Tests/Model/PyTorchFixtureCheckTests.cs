using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>The comparisons the fixture tests and `self-test` share can fail, and the fixture reader reads every dtype the fixtures hold.</summary>
public class PyTorchFixtureCheckTests
{
    [Fact]
    public void CloseAllowsAtolPlusRtolTimesExpectedAndNoMore()
    {
        Assert.True(PyTorchFixtureCheck.Close("x", [100f, -1f], [100.009f, -1f], 1e-4, 1e-5).Passed);
        var failed = PyTorchFixtureCheck.Close("x", [100f, -1f], [100f, -1.0002f], 1e-4, 1e-5);
        Assert.False(failed.Passed);
        Assert.True(failed.Error > 1);
        Assert.False(PyTorchFixtureCheck.Close("x", [1f], [float.NaN], 1e-4, 1e-5).Passed);
        Assert.False(PyTorchFixtureCheck.Close("x", [1f, 2f], [1f], 1e-4, 1e-5).Passed);
    }

    [Fact]
    public void RelativeToScaleIsTheWorstDifferenceOverTheLargestExpectedValue()
    {
        Assert.Equal(0.01, PyTorchFixtureCheck.RelativeToScale([2f, -4f], [2.04f, -4f]), 1e-6);
        Assert.True(double.IsNaN(PyTorchFixtureCheck.RelativeToScale([1f], [float.NaN])));
    }

    [Fact]
    public void FixtureFilesHoldFloatLongAndByteTensorsUnderFreeFormNames()
    {
        var f = FixtureFile.Open(PyTorchFixtureCheck.NarrowFixtureFile);
        Assert.Equal(3 * 3 * 16 * 16, f.Floats("input.x").Length);
        Assert.Equal(3, f.Longs("input.labels").Length);
        Assert.Equal(2 * 3 * 16 * 16, f.Bytes("step1.forget_pixels").Length);
        Assert.Equal([3, 3, 16, 16], f.Shape("input.x"));
        Assert.Throws<InvalidDataException>(() => f.Floats("input.labels"));
        Assert.Throws<KeyNotFoundException>(() => f.Floats("no.such.tensor"));
    }

    [Fact]
    public void HashedParametersRepeatThePythonHash()
    {
        // hash_uniform(4, 0) and hash_bytes(4, 7) as make_model_fixtures.py prints them.
        float[] expected = [0.13424635f, 0.3169334f, 0.34718335f, 0.8154881f];
        var u = HashedParameters.Uniform(4, 0);
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], u[i], 1e-7f);
        Assert.Equal([227, 30, 75, 33], HashedParameters.Bytes(4, 7));
    }
}
