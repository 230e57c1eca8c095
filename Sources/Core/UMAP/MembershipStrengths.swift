#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// umap-learn's `compute_membership_strengths`: the weight of each kNN edge i -> j,
///     0 for the point itself (unless `bipartite`: queries and neighbours from different sets),
///     1 where d - rho <= 0 (or sigma is 0),
///     exp(-(d - rho) / sigma) otherwise.
/// Returns (rows, k) weights aligned with `graph.indices`; missing neighbours (-1) get 0.
public func membershipStrengths(
    _ graph: KNNGraph, sigmas: [Float], rhos: [Float], bipartite: Bool = false
) -> [Float] {
    precondition(sigmas.count == graph.rows && rhos.count == graph.rows)
    let k = graph.k
    var weights = [Float](repeating: 0, count: graph.rows * k)
    for i in 0..<graph.rows {
        for j in 0..<k {
            let idx = graph.indices[i * k + j]
            if idx < 0 { continue }
            let d = graph.distances[i * k + j]
            if !bipartite && Int(idx) == i {
                weights[i * k + j] = 0
            } else if d - rhos[i] <= 0 || sigmas[i] == 0 {
                weights[i * k + j] = 1
            } else {
                weights[i * k + j] = exp(-((d - rhos[i]) / sigmas[i]))
            }
        }
    }
    return weights
}
