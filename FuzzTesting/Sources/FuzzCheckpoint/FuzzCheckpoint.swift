import Datasets
import Foundation
import LeNet
import Training

/// 200 training and 50 test images of MNIST (FuzzTesting/Data), on which the corpus's
/// resume.safetensors was trained: a mutated resume state that still matches them reaches the
/// checks that need the data (batches per epoch, the step).
let dataset = try? IDXDataset(
    directory: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL)

/// Bytes as a checkpoint: safetensors parsing, LeNet-5's tensors, the metadata, and the training
/// state a resume would read, then the resume itself (on one thread, whatever the state says).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let checkpoint = try? Checkpoint(decoding: Data(bytes: start, count: count), path: "fuzz") else { return 0 }
    precondition(checkpoint.model.parameters.count == ParameterLayout.count)
    precondition(checkpoint.model.parameters.allSatisfy(\.isFinite))
    if (try? TrainingState(metadata: checkpoint.metadata)) != nil, let dataset {
        _ = try? Trainer(resuming: checkpoint, dataset: dataset, threads: 1)
    }
    _ = checkpoint.encoded()
    return 0
}
