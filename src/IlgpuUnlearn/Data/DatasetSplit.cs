namespace IlgpuUnlearn.Data;

/// <summary>A dataset's training and test parts.</summary>
public sealed record DatasetSplit(ImageDataset Train, ImageDataset Test);
