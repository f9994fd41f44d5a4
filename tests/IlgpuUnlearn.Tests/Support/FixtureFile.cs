using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>The safetensors fixtures written by Fixtures/make_model_fixtures.py, copied next to the test assembly.</summary>
public static class FixtureFile
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static PyTorchFixture Open(string fileName) => PyTorchFixture.Load(Path.Combine(Folder, fileName));
}
