/// How replicas stay in step after each update.
public enum WeightSync: String, CaseIterable, Sendable {
    /// Broadcast the step's combined gradient (about 1 MB; nothing when one worker computed the whole
    /// step); every worker applies Adam itself and holds the optimiser state, the coordinator only replays
    /// the updates when it needs the weights. Exact on workers that run the same build on the same kind of
    /// CPU; checked by a weights SHA-256 every epoch, with a full resend on a mismatch.
    case gradient
    /// Broadcast the full fp32 weights (3.3 MB) after every step; the coordinator applies Adam and workers
    /// only compute gradients.
    case weights
}
