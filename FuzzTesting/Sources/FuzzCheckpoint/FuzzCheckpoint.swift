import Foundation
import LeNet
import Training

/// Bytes as a checkpoint: safetensors parsing, LeNet-5's tensors, the metadata, and the training
/// state a resume would read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let checkpoint = try? Checkpoint(decoding: Data(bytes: start, count: count), path: "fuzz") else { return 0 }
    precondition(checkpoint.model.parameters.count == ParameterLayout.count)
    precondition(checkpoint.model.parameters.allSatisfy(\.isFinite))
    _ = try? TrainingState(metadata: checkpoint.metadata)
    _ = checkpoint.encoded()
    return 0
}
