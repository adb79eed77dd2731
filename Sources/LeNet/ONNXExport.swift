import Foundation

/// Protocol-buffer encoding, just the parts an ONNX model needs: varints, length-delimited
/// fields and nested messages (https://protobuf.dev/programming-guides/encoding/).
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// An integer field (wire type 0); negative numbers take ten bytes, as int64 requires.
    mutating func int(_ field: Int, _ value: Int) {
        varint(UInt64(field << 3))
        varint(UInt64(bitPattern: Int64(value)))
    }

    /// A length-delimited field (wire type 2).
    mutating func bytes(_ field: Int, _ payload: [UInt8]) {
        varint(UInt64(field << 3 | 2))
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    mutating func string(_ field: Int, _ value: String) {
        bytes(field, Array(value.utf8))
    }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }
}

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
            initializer(&graph, "pads", int64s: [0, 0, 2, 2, 0, 0, 2, 2], dims: [8])
            initializer(&graph, "scale", floats: [1 / (255 * norm.standardDeviation)], dims: [])
            initializer(&graph, "shift", floats: [-norm.mean / norm.standardDeviation], dims: [])
            for t in ParameterLayout.tensors {
                initializer(&graph, t.name, floats: Array(model.parameters[t.offset..<t.offset + t.count]), dims: t.shape)
            }
            let pool: [(String, [Int])] = [("kernel_shape", [2, 2]), ("strides", [2, 2])]
            let nodes: [(op: String, inputs: [String], output: String, ints: [(String, [Int])], int: [(String, Int)])] = [
                ("Pad", ["pixels", "pads"], "padded", [], []),
                ("Mul", ["padded", "scale"], "scaled", [], []),
                ("Add", ["scaled", "shift"], "normalized", [], []),
                ("Conv", ["normalized", "conv1.weight", "conv1.bias"], "c1", [("kernel_shape", [5, 5])], []),
                ("Relu", ["c1"], "c1_relu", [], []),
                ("MaxPool", ["c1_relu"], "s2", pool, []),
                ("Conv", ["s2", "conv2.weight", "conv2.bias"], "c3", [("kernel_shape", [5, 5])], []),
                ("Relu", ["c3"], "c3_relu", [], []),
                ("MaxPool", ["c3_relu"], "s4", pool, []),
                ("Conv", ["s4", "conv3.weight", "conv3.bias"], "c5", [("kernel_shape", [5, 5])], []),
                ("Relu", ["c5"], "c5_relu", [], []),
                ("Flatten", ["c5_relu"], "c5_flat", [], [("axis", 1)]),
                ("Gemm", ["c5_flat", "fc1.weight", "fc1.bias"], "f6", [], [("transB", 1)]),
                ("Relu", ["f6"], "f6_relu", [], []),
                ("Gemm", ["f6_relu", "fc2.weight", "fc2.bias"], "logits", [], [("transB", 1)]),
                ("Softmax", ["logits"], "probabilities", [], [("axis", 1)]),
            ]
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
            valueInfo(&graph, Graph.input, "pixels", dims: [nil, 1, 28, 28])
            valueInfo(&graph, Graph.output, "logits", dims: [nil, 10])
            valueInfo(&graph, Graph.output, "probabilities", dims: [nil, 10])
        }
        return Data(w.bytes)
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
