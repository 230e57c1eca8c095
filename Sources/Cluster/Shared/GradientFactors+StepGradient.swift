import Core
import Protocol

// A step's gradient crosses the wire as `GradientFactors` (Protocol knows no training types), and a part left
// in the spawned workers' shared file as `SharedPart`; these are the only conversions between the wire and
// the training types, used by the coordinator and the worker alike.

extension GradientFactors {
    /// `gradient` as it travels: the packed fixed-point sums and the dense kernel's factor rows.
    init(_ gradient: StepGradient) {
        self.init(sums: gradient.sums.values, rows: UInt32(gradient.rows), flatWidth: UInt32(SeedCNN.flatWidth),
                  deltaWidth: UInt32(SeedCNN.hiddenWidth), flatRows: gradient.flatRows, deltaRows: gradient.deltaRows)
    }

    /// True when the sums and row widths are those of `SeedCNN` (checked before `StepGradient(self)`).
    var fitsModel: Bool {
        sums.count == StepGradient.packedCount && flatWidth == SeedCNN.flatWidth && deltaWidth == SeedCNN.hiddenWidth
    }
}

extension StepGradient {
    /// The gradient `factors` carry; their shape must fit the model (`GradientFactors.fitsModel`).
    init(_ factors: GradientFactors) {
        self.init(sums: FixedPointGradient(values: factors.sums), flatRows: factors.flatRows,
                  deltaRows: factors.deltaRows, rows: Int(factors.rows))
    }
}

extension SharedPart {
    /// Where a part was written, as it travels (the weights version is the step's, known to both ends).
    init(_ location: SharedGradientParts.Location) {
        self.init(member: UInt32(location.member), firstMicroBatch: UInt32(location.firstMicroBatch),
                  rows: UInt32(location.rows))
    }
}

extension SharedGradientParts.Location {
    /// Where `part` lies for the step computed from weights version `weightsVersion`.
    init(_ part: SharedPart, weightsVersion: UInt64) {
        self.init(member: Int(part.member), weightsVersion: weightsVersion, firstMicroBatch: Int(part.firstMicroBatch),
                  rows: Int(part.rows))
    }
}
