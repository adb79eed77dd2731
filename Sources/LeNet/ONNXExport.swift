import Formats
import Foundation

/// Writes LeNet-5 as an ONNX model (IR version 7, opset 13) using only standard operators:
/// Pad, Mul, Add, Conv, Relu, MaxPool, Flatten, Gemm and Softmax.
///
/// Input `pixels`: float32 [N, 1, 28, 28], raw intensities 0...255 as in the IDX files (white
/// digit on black). The graph zero-pads to 32x32 and applies the training normalisation itself.
/// Outputs `logits` and `probabilities`, both [N, 10].
public enum ONNXExport {
    // Field numbers from onnx.proto.
    private enum Model { static let irVersion = 1, producerName = 2, producerVersion = 3, docString = 6, graph = 7, opsetImport = 8 }
    private enum Graph { static let node = 1, name = 2, initializer = 5, input = 11, output = 12 }
    private enum Node { static let input = 1, output = 2, name = 3, opType = 4, attribute = 5 }
    private enum Attribute { static let name = 1, i = 3, ints = 8, type = 20, typeInt = 2, typeInts = 7 }
    private enum Tensor { static let dims = 1, dataType = 2, name = 8, rawData = 9, float = 1, int64 = 7 }

    public static func encode(_ model: LeNet.Model, metadata: [String: String] = [:]) -> Data {
        var w = ProtobufWriter()
        w.int(Model.irVersion, 7)
        w.string(Model.producerName, "swift-lenet")
        w.string(Model.producerVersion, Checkpoint.formatVersion)
        w.string(Model.docString, "LeNet-5 trained by swift-lenet. Input: raw MNIST pixels 0-255, [N,1,28,28]. "
            + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        w.message(Model.opsetImport) { opset in
            opset.string(1, "")
            opset.int(2, 13)
        }
        w.message(Model.graph) { graph in
            graph.string(Graph.name, "lenet5")
            let norm = model.normalization
            let p = LeNet5.padding
            initializer(&graph, "pads", int64s: [0, 0, Int64(p), Int64(p), 0, 0, Int64(p), Int64(p)], dims: [8])
            initializer(&graph, "scale", floats: [1 / (255 * norm.standardDeviation)], dims: [])
            initializer(&graph, "shift", floats: [-norm.mean / norm.standardDeviation], dims: [])
            for t in ParameterLayout.tensors {
                initializer(&graph, t.name, floats: Array(model.parameters[t.offset..<t.offset + t.count]), dims: t.shape)
            }
            var nodes: [GraphNode] = [
                GraphNode(op: "Pad", inputs: ["pixels", "pads"], output: "padded"),
                GraphNode(op: "Mul", inputs: ["padded", "scale"], output: "scaled"),
                GraphNode(op: "Add", inputs: ["scaled", "shift"], output: "normalized"),
            ]
            for (index, stage) in LeNet5.stages.enumerated() {
                let previous = nodes[nodes.count - 1].output
                let next = index + 1 < LeNet5.stages.count ? LeNet5.stages[index + 1] : nil
                let output = stage.kind == .softmax ? "probabilities" : next?.kind == .softmax ? "logits" : stage.name.lowercased()
                let parameters = [stage.weight, stage.bias].compactMap { $0?.name }
                switch stage.kind {
                case .convolution(let k):
                    nodes.append(GraphNode(op: "Conv", inputs: [previous] + parameters, output: output, ints: [("kernel_shape", [k, k])]))
                case .maxPool(let w):
                    nodes.append(GraphNode(op: "MaxPool", inputs: [previous], output: output, ints: [("kernel_shape", [w, w]), ("strides", [w, w])]))
                case .fullyConnected:
                    var input = previous
                    if index > 0 && LeNet5.stages[index - 1].kind != .fullyConnected {
                        input = previous + "_flat"
                        nodes.append(GraphNode(op: "Flatten", inputs: [previous], output: input, int: [("axis", 1)]))
                    }
                    nodes.append(GraphNode(op: "Gemm", inputs: [input] + parameters, output: output, int: [("transB", 1)]))
                case .softmax:
                    nodes.append(GraphNode(op: "Softmax", inputs: [previous], output: output, int: [("axis", 1)]))
                }
                if stage.relu { nodes.append(GraphNode(op: "Relu", inputs: [output], output: output + "_relu")) }
            }
            for (index, node) in nodes.enumerated() {
                graph.message(Graph.node) { n in
                    for input in node.inputs { n.string(Node.input, input) }
                    n.string(Node.output, node.output)
                    n.string(Node.name, "\(node.op.lowercased())_\(index)")
                    n.string(Node.opType, node.op)
                    for (name, values) in node.ints {
                        n.message(Node.attribute) { a in
                            a.string(Attribute.name, name)
                            for v in values { a.int(Attribute.ints, v) }
                            a.int(Attribute.type, Attribute.typeInts)
                        }
                    }
                    for (name, value) in node.int {
                        n.message(Node.attribute) { a in
                            a.string(Attribute.name, name)
                            a.int(Attribute.i, value)
                            a.int(Attribute.type, Attribute.typeInt)
                        }
                    }
                }
            }
            let side = LeNet5.imageSide
            valueInfo(&graph, Graph.input, "pixels", dims: [nil, LeNet5.input.channels, side, side])
            valueInfo(&graph, Graph.output, "logits", dims: [nil, LeNet5.classes])
            valueInfo(&graph, Graph.output, "probabilities", dims: [nil, LeNet5.classes])
        }
        return Data(w.bytes)
    }

    /// One operator of the graph and its attributes (lists of integers, single integers).
    private struct GraphNode {
        var op: String
        var inputs: [String]
        var output: String
        var ints: [(String, [Int])] = []
        var int: [(String, Int)] = []
    }

    /// A constant tensor of the graph: its dims, element type and raw little-endian data.
    private static func initializer(_ graph: inout ProtobufWriter, _ name: String, dataType: Int, data: [UInt8], dims: [Int]) {
        graph.message(Graph.initializer) { t in
            for d in dims { t.int(Tensor.dims, d) }
            t.int(Tensor.dataType, dataType)
            t.string(Tensor.name, name)
            t.bytes(Tensor.rawData, data)
        }
    }

    private static func initializer(_ graph: inout ProtobufWriter, _ name: String, floats: [Float], dims: [Int]) {
        initializer(&graph, name, dataType: Tensor.float, data: floats.littleEndianBytes, dims: dims)
    }

    private static func initializer(_ graph: inout ProtobufWriter, _ name: String, int64s: [Int64], dims: [Int]) {
        initializer(&graph, name, dataType: Tensor.int64, data: int64s.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }, dims: dims)
    }

    /// A float tensor's name, type and shape; a nil dimension is the symbolic batch size `N`.
    private static func valueInfo(_ graph: inout ProtobufWriter, _ field: Int, _ name: String, dims: [Int?]) {
        graph.message(field) { v in
            v.string(1, name)
            v.message(2) { type in
                type.message(1) { tensor in
                    tensor.int(1, Tensor.float)
                    tensor.message(2) { shape in
                        for d in dims {
                            shape.message(1) { dim in
                                if let d { dim.int(1, d) } else { dim.string(2, "N") }
                            }
                        }
                    }
                }
            }
        }
    }
}
