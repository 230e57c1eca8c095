import Protocol

// Training logic on a wire message, so it lives here rather than in Protocol: a broadcast update leaves out the factor rows its receiver computed itself (`OwnRows`); the receiver
// puts them back before it applies the update. Rows are samples: `flatRows` and `deltaRows` are
// `rows` x `flatWidth` and `rows` x `deltaWidth`, row-major, so a run of rows is one contiguous range.

extension StepUpdate {
    /// This update without the factor rows that `own` names (the receiver's own share, which it holds).
    /// The rows must lie within the gradient's.
    public func leavingOut(_ own: OwnRows) -> StepUpdate {
        let start = Int(own.start), end = start + Int(own.count)
        precondition(ownRows == nil && end <= Int(gradient.rows), "StepUpdate.leavingOut: rows \(start)..<\(end) of \(gradient.rows)")
        var update = self
        let flat = Int(gradient.flatWidth), delta = Int(gradient.deltaWidth)
        update.gradient.flatRows.removeSubrange(start * flat..<end * flat)
        update.gradient.deltaRows.removeSubrange(start * delta..<end * delta)
        update.gradient.rows -= own.count
        update.ownRows = own
        return update
    }

    /// The whole step's gradient: `gradient` with the receiver's own rows (`ownRows.count` rows of each
    /// width) put back where `ownRows` says; `gradient` itself if no rows were left out.
    public func restoringOwnRows(flatRows: [Float], deltaRows: [Float]) -> GradientFactors {
        guard let own = ownRows else { return gradient }
        precondition(flatRows.count == Int(own.count) * Int(gradient.flatWidth)
                     && deltaRows.count == Int(own.count) * Int(gradient.deltaWidth),
                     "StepUpdate.restoringOwnRows: the rows do not fill \(own.count) rows")
        var whole = gradient
        whole.flatRows.insert(contentsOf: flatRows, at: Int(own.start) * Int(gradient.flatWidth))
        whole.deltaRows.insert(contentsOf: deltaRows, at: Int(own.start) * Int(gradient.deltaWidth))
        whole.rows += own.count
        return whole
    }
}
