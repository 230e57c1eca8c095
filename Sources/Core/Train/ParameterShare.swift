/// The part of the model's parameters that one of several processes applies the optimiser step to, when
/// processes on one host split that step (`SharedUpdate`): a run of the hidden kernel's columns (98 % of
/// the parameters, and of the step's work: the mean gradient's product and Adam), plus, for the first
/// share, every other tensor. Adam is element-wise and every element of the mean is computed the same way
/// whatever columns are asked for, so a split step gives the bits of a whole one.
public struct ParameterShare: Sendable, Equatable, CustomStringConvertible {
    /// Columns of `hidden/kernel` (of `SeedCNN.hiddenWidth`).
    public let columns: Range<Int>
    /// Whether the share holds every tensor other than `hidden/kernel`.
    public let includesOtherTensors: Bool

    public init(columns: Range<Int>, includesOtherTensors: Bool) {
        precondition(columns.lowerBound >= 0 && columns.upperBound <= SeedCNN.hiddenWidth)
        self.columns = columns
        self.includesOtherTensors = includesOtherTensors
    }

    /// All the parameters.
    public static let whole = ParameterShare(columns: 0..<SeedCNN.hiddenWidth, includesOtherTensors: true)

    /// The most processes a step can be split over: each share has at least 16 columns.
    public static let maxMembers = SeedCNN.hiddenWidth / 16

    /// `members` disjoint shares that together hold every parameter once: column runs of near-equal width
    /// (multiples of 16, the products' tile width), the other tensors with the first.
    public static func split(members: Int) -> [ParameterShare] {
        precondition(members >= 1 && members <= maxMembers)
        let width = SeedCNN.hiddenWidth
        let bounds = (0...members).map { r in r == members ? width : r * width / members / 16 * 16 }
        return (0..<members).map { ParameterShare(columns: bounds[$0]..<bounds[$0 + 1], includesOtherTensors: $0 == 0) }
    }

    /// The share's elements in the flat parameter vector, in ascending order: the tensors before
    /// `hidden/kernel`, each of its 1,568 rows' column run, the tensors after it.
    public var ranges: [Range<Int>] {
        let hk = StepGradient.hiddenKernel
        var result: [Range<Int>] = []
        if includesOtherTensors { result.append(0..<hk.offset) }
        if !columns.isEmpty {
            for row in 0..<SeedCNN.flatWidth {
                let start = hk.offset + row * SeedCNN.hiddenWidth
                result.append((start + columns.lowerBound)..<(start + columns.upperBound))
            }
        }
        if includesOtherTensors { result.append(hk.range.upperBound..<SeedCNN.layout.count) }
        return result
    }

    /// How many parameters the share holds.
    public var count: Int {
        columns.count * SeedCNN.flatWidth
            + (includesOtherTensors ? SeedCNN.layout.count - StepGradient.hiddenKernel.count : 0)
    }

    public var description: String {
        "hidden/kernel columns \(columns.lowerBound)..<\(columns.upperBound)" + (includesOtherTensors ? " and the other tensors" : "")
    }
}
