import XCTest
@testable import Core

/// Each UMAP stage on its own, against umap-learn's values or a direct computation.
final class UMAPStagesTests: XCTestCase {
    func testFindABMatchesUmapLearnForSeveralMinDist() {
        // umap-learn 0.5 find_ab_params(spread=1, min_dist) (scipy curve_fit).
        let expected: [(Float, Float, Float)] = [
            (0.0, 1.9328, 0.7905), (0.05, 1.7502, 0.8421), (0.1, 1.5769, 0.8951),
            (0.25, 1.1214, 1.0575), (0.5, 0.5830, 1.3342),
        ]
        for (minDist, a, b) in expected {
            let fitted = findAB(spread: 1, minDist: minDist)
            XCTAssertEqual(fitted.a, a, accuracy: 2e-3, "a for min_dist \(minDist)")
            XCTAssertEqual(fitted.b, b, accuracy: 2e-3, "b for min_dist \(minDist)")
        }
    }

    func testSmoothKNNScalesHitLog2K() {
        let (data, _) = gaussianBlobs(clusters: 3, perCluster: 100, dim: 8, separation: 3)
        let k = 15
        let knn = exactNearestNeighbors(data: data, rows: 300, dim: 8, k: k)
        let (sigmas, rhos) = smoothKNNDistances(knn, nNeighbors: Float(k))
        let target = log2(Double(k))
        for i in 0..<300 {
            let row = knn.distances[(i * k)..<((i + 1) * k)]
            XCTAssertEqual(rhos[i], row.first { $0 > 0 }!, "rho of row \(i) is its nearest non-zero distance")
            var sum = 0.0
            for j in 1..<k { sum += exp(-Double(max(0, knn.distances[i * k + j] - rhos[i])) / Double(sigmas[i])) }
            XCTAssertEqual(sum, target, accuracy: 1e-3, "row \(i): sigma \(sigmas[i])")
        }
    }

    func testMembershipStrengthsFollowTheDefinition() {
        let (data, _) = gaussianBlobs(clusters: 2, perCluster: 30, dim: 4)
        let k = 6
        let knn = exactNearestNeighbors(data: data, rows: 60, dim: 4, k: k)
        let (sigmas, rhos) = smoothKNNDistances(knn, nNeighbors: Float(k))
        let w = membershipStrengths(knn, sigmas: sigmas, rhos: rhos)
        for i in 0..<60 {
            XCTAssertEqual(w[i * k], 0, "no self edge")
            XCTAssertEqual(w[i * k + 1], 1, "nearest neighbour at rho has strength 1")
            for j in 2..<k {
                let expected = exp(-(knn.distances[i * k + j] - rhos[i]) / sigmas[i])
                XCTAssertEqual(w[i * k + j], expected, accuracy: 1e-6)
            }
        }
    }

    func testFuzzyUnionEqualsDenseComputation() {
        let (data, _) = gaussianBlobs(clusters: 3, perCluster: 20, dim: 5, separation: 2)
        let n = 60, k = 8
        let knn = exactNearestNeighbors(data: data, rows: n, dim: 5, k: k)
        let (sigmas, rhos) = smoothKNNDistances(knn, nNeighbors: Float(k))
        let strengths = membershipStrengths(knn, sigmas: sigmas, rhos: rhos)
        let graph = fuzzySimplicialSet(knn, strengths: strengths)
        var dense = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<k { dense[i * n + Int(knn.indices[i * k + j])] = strengths[i * k + j] } }
        var edges = 0
        for i in 0..<n {
            for j in 0..<n {
                let a = dense[i * n + j], at = dense[j * n + i]
                let expected = a + at - a * at
                XCTAssertEqual(graph.weight(i, j), expected, accuracy: 1e-6, "P[\(i), \(j)]")
                if expected != 0 { edges += 1 }
            }
        }
        XCTAssertEqual(graph.edgeCount, edges, "no zero entries stored")
    }

    func testPruningDropsEdgesBelowMaxOverEpochs() {
        let g = FuzzyGraph(rows: 2, columns: 2, rowStart: [0, 2, 3], targets: [0, 1, 0], weights: [1, 0.004, 0.006])
        let pruned = pruneWeakEdges(g, nEpochs: 200, defaultEpochs: 200)
        XCTAssertEqual(pruned.weights, [1, 0.006])
        XCTAssertEqual(pruned.rowStart, [0, 1, 2])
    }

    func testEigenSolversMatchKnownSpectra() {
        // Path graph Laplacian-like tridiagonal: eigenvalues 2 - 2cos(πj/(n+1)).
        let n = 12
        let t = tridiagonalEigen(diagonal: [Double](repeating: 2, count: n),
                                 offDiagonal: [Double](repeating: -1, count: n - 1))
        let dense = symmetricEigen((0..<(n * n)).map { i in
            let (r, c) = (i / n, i % n)
            return r == c ? 2 : (abs(r - c) == 1 ? -1 : 0)
        }, n: n)
        for j in 0..<n {
            let expected = 2 - 2 * cos(Double.pi * Double(j + 1) / Double(n + 1))
            XCTAssertEqual(t.values[j], expected, accuracy: 1e-10)
            XCTAssertEqual(dense.values[j], expected, accuracy: 1e-10)
            // The eigenvectors agree up to sign.
            let dot = (0..<n).reduce(0.0) { $0 + t.vectors[j * n + $1] * dense.vectors[j * n + $1] }
            XCTAssertEqual(abs(dot), 1, accuracy: 1e-8)
        }
    }

    func testSpectralLayoutOfARingIsACircle() {
        // A cycle graph: the Laplacian's first non-trivial eigenvectors are cos and sin of the angle.
        let n = 200
        var start = [0], targets = [Int32](), weights = [Float]()
        for i in 0..<n {
            for j in [(i + n - 1) % n, (i + 1) % n].sorted() { targets.append(Int32(j)); weights.append(1) }
            start.append(targets.count)
        }
        let ring = FuzzyGraph(rows: n, columns: n, rowStart: start, targets: targets, weights: weights)
        let y = spectralLayout(ring, dim: 2, data: nil, dataDim: 0, seed: 3)
        let radii = (0..<n).map { i -> Double in
            let (u, v) = (Double(y[2 * i]), Double(y[2 * i + 1]))
            return (u * u + v * v).squareRoot()
        }
        let mean = radii.reduce(0, +) / Double(n)
        for r in radii { XCTAssertEqual(r, mean, accuracy: 0.02 * mean) }
    }

    func testSpectralInitializationPlacesComponentsApartInTheBox() {
        // Three separate triangles-plus: components laid out apart, all in [0, 10].
        let (data, labels) = gaussianBlobs(clusters: 3, perCluster: 40, dim: 6, separation: 20)
        let knn = exactNearestNeighbors(data: data, rows: 120, dim: 6, k: 10)
        let (s, r) = smoothKNNDistances(knn, nNeighbors: 10)
        let graph = fuzzySimplicialSet(knn, strengths: membershipStrengths(knn, sigmas: s, rhos: r))
        XCTAssertEqual(connectedComponents(graph).count, 3)
        let y = spectralInitialization(graph, dim: 2, data: data, dataDim: 6, seed: 1)
        XCTAssertEqual(y.min()!, 0, accuracy: 1e-5)
        XCTAssertEqual(y.max()!, 10, accuracy: 1e-4)
        XCTAssertEqual(leaveOneOutAccuracy(y, labels: labels, k: 5), 1, "components do not overlap")
    }

    func testProcrustesUndoesAKnownSimilarity() {
        var g = SplitMix64(seed: 5, stream: .sampling)
        let rows = 300
        let y = (0..<(2 * rows)).map { _ in Float(g.nextGaussian() * 3) }
        // reference = 1.7 · y · Q + t, with Q a reflection composed with a rotation of 0.8 rad.
        let (c, s) = (cos(0.8), sin(0.8))
        let q = [c, s, s, -c]
        var reference = [Float](repeating: 0, count: 2 * rows)
        for r in 0..<rows {
            let (x0, x1) = (Double(y[2 * r]), Double(y[2 * r + 1]))
            reference[2 * r] = Float(1.7 * (x0 * q[0] + x1 * q[2]) + 4)
            reference[2 * r + 1] = Float(1.7 * (x0 * q[1] + x1 * q[3]) - 2)
        }
        let transform = procrustes(y, onto: reference)
        XCTAssertEqual(transform.scale, 1.7, accuracy: 1e-4)
        XCTAssertTrue(transform.isReflection)
        let aligned = transform.apply(y)
        for i in 0..<(2 * rows) { XCTAssertEqual(aligned[i], reference[i], accuracy: 1e-3) }
        // And a rotation (no reflection) is found as such.
        let rotated = alignProcrustes(reference, onto: y)
        for i in 0..<(2 * rows) { XCTAssertEqual(rotated[i], y[i], accuracy: 1e-3) }
    }

    /// Five blobs' pruned fuzzy graph for `nEpochs`, its spectral layout and labels.
    func blobLayoutProblem(nEpochs: Int) -> (graph: FuzzyGraph, start: [Float], labels: [Int32]) {
        let (data, labels) = gaussianBlobs(clusters: 5, perCluster: 60, dim: 10, separation: 4)
        let knn = exactNearestNeighbors(data: data, rows: 300, dim: 10, k: 15)
        let (s, r) = smoothKNNDistances(knn, nNeighbors: 15)
        let graph = pruneWeakEdges(fuzzySimplicialSet(knn, strengths: membershipStrengths(knn, sigmas: s, rhos: r)),
                                   nEpochs: nEpochs, defaultEpochs: 500)
        return (graph, spectralInitialization(graph, dim: 2, data: data, dataDim: 10, seed: 2), labels)
    }

    func testFastAndReferenceKernelsReachTheSameQuality() {
        let (graph, start, labels) = blobLayoutProblem(nEpochs: 100)
        let (a, b) = findAB()
        var accuracies = [Double]()
        for reference in [false, true] {
            var y = start
            var p = LayoutParameters(a: a, b: b, nEpochs: 100)
            p.referenceKernel = reference
            optimizeLayout(&y, dim: 2, graph: graph, parameters: p)
            accuracies.append(leaveOneOutAccuracy(y, labels: labels, k: 10))
        }
        XCTAssertGreaterThanOrEqual(accuracies[0], 0.97, "fast kernel")
        XCTAssertGreaterThanOrEqual(accuracies[1], 0.97, "reference kernel")
    }

    func testLayoutIsTheSameForAnyThreadCountWithBothKernels() {
        let (graph, start, _) = blobLayoutProblem(nEpochs: 60)
        let (a, b) = findAB()
        for reference in [false, true] {
            var maps = [[Float]]()
            for threads in [1, 2, 3, 8] {
                var y = start
                var p = LayoutParameters(a: a, b: b, nEpochs: 60)
                p.referenceKernel = reference
                p.threads = threads
                optimizeLayout(&y, dim: 2, graph: graph, parameters: p)
                maps.append(y)
            }
            XCTAssertNotEqual(maps[0], start)
            for m in maps.dropFirst() { XCTAssertEqual(m, maps[0], reference ? "reference kernel" : "fast kernel") }
        }
    }
}

/// Leave-one-out k-NN accuracy of a 2-D map.
func leaveOneOutAccuracy(_ y: [Float], labels: [Int32], k: Int) -> Double {
    let n = labels.count
    let knn = exactNearestNeighbors(data: y, rows: n, dim: 2, k: k + 1, threads: 1)
    var correct = 0
    for i in 0..<n {
        var votes = [Int32: Int]()
        for s in 1...k { votes[labels[Int(knn.indices[i * (k + 1) + s])], default: 0] += 1 }
        let best = votes.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
        if best == labels[i] { correct += 1 }
    }
    return Double(correct) / Double(n)
}
