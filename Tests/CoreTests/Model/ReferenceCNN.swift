// A slow, obviously correct Double-precision version of every layer of the seed CNN, over plain
// unpadded NHWC arrays. The fast Float kernels are tested against it, and it is tested against
// finite differences.
@testable import Core

enum Ref {
    /// Keras 2x2 `same` conv: pad 0 before, 1 after. x (n,s,s,cin), k (2,2,cin,cout).
    static func conv(_ x: [Double], n: Int, s: Int, cin: Int, cout: Int, k: [Double], b: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: n * s * s * cout)
        for img in 0..<n { for i in 0..<s { for j in 0..<s { for co in 0..<cout {
            var acc = b[co]
            for di in 0..<2 { for dj in 0..<2 where i + di < s && j + dj < s {
                for ci in 0..<cin {
                    acc += x[((img * s + i + di) * s + j + dj) * cin + ci] * k[((di * 2 + dj) * cin + ci) * cout + co]
                }
            } }
            y[((img * s + i) * s + j) * cout + co] = acc
        } } } }
        return y
    }

    static func convBackward(_ x: [Double], dy: [Double], n: Int, s: Int, cin: Int, cout: Int, k: [Double])
        -> (dx: [Double], dk: [Double], db: [Double]) {
        var dx = [Double](repeating: 0, count: x.count)
        var dk = [Double](repeating: 0, count: k.count)
        var db = [Double](repeating: 0, count: cout)
        for img in 0..<n { for i in 0..<s { for j in 0..<s { for co in 0..<cout {
            let g = dy[((img * s + i) * s + j) * cout + co]
            db[co] += g
            for di in 0..<2 { for dj in 0..<2 where i + di < s && j + dj < s {
                for ci in 0..<cin {
                    let xi = ((img * s + i + di) * s + j + dj) * cin + ci
                    let ki = ((di * 2 + dj) * cin + ci) * cout + co
                    dk[ki] += g * x[xi]
                    dx[xi] += g * k[ki]
                }
            } }
        } } } }
        return (dx, dk, db)
    }

    static func relu(_ x: [Double]) -> [Double] { x.map { max($0, 0) } }
    static func reluBackward(_ x: [Double], dy: [Double]) -> [Double] { zip(x, dy).map { $0 > 0 ? $1 : 0 } }

    /// 2x2 stride-2 max-pool of (n,s,s,c) -> (n,s/2,s/2,c); ties go to the first cell.
    static func maxPool(_ x: [Double], n: Int, s: Int, c: Int) -> (y: [Double], arg: [Int]) {
        let h = s / 2
        var y = [Double](repeating: 0, count: n * h * h * c), arg = [Int](repeating: 0, count: y.count)
        for img in 0..<n { for i in 0..<h { for j in 0..<h { for ch in 0..<c {
            var best = -Double.infinity, bi = 0
            for di in 0..<2 { for dj in 0..<2 {
                let idx = ((img * s + 2 * i + di) * s + 2 * j + dj) * c + ch
                if x[idx] > best { best = x[idx]; bi = idx }
            } }
            let o = ((img * h + i) * h + j) * c + ch
            y[o] = best; arg[o] = bi
        } } } }
        return (y, arg)
    }

    static func maxPoolBackward(dy: [Double], arg: [Int], inputCount: Int) -> [Double] {
        var dx = [Double](repeating: 0, count: inputCount)
        for (o, i) in arg.enumerated() { dx[i] += dy[o] }
        return dx
    }

    static func dense(_ x: [Double], rows: Int, inW: Int, outW: Int, k: [Double], b: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: rows * outW)
        for r in 0..<rows { for o in 0..<outW {
            var acc = b[o]
            for i in 0..<inW { acc += x[r * inW + i] * k[i * outW + o] }
            y[r * outW + o] = acc
        } }
        return y
    }

    static func denseBackward(_ x: [Double], dy: [Double], rows: Int, inW: Int, outW: Int, k: [Double])
        -> (dx: [Double], dk: [Double], db: [Double]) {
        var dx = [Double](repeating: 0, count: x.count), dk = [Double](repeating: 0, count: k.count)
        var db = [Double](repeating: 0, count: outW)
        for r in 0..<rows { for o in 0..<outW {
            let g = dy[r * outW + o]
            db[o] += g
            for i in 0..<inW { dk[i * outW + o] += x[r * inW + i] * g; dx[r * inW + i] += k[i * outW + o] * g }
        } }
        return (dx, dk, db)
    }

    /// Summed cross-entropy of softmax(z) and its gradient p - onehot.
    static func softmaxCE(_ z: [Double], rows: Int, labels: [Int]) -> (loss: Double, dz: [Double]) {
        var loss = 0.0, dz = [Double](repeating: 0, count: z.count)
        for r in 0..<rows {
            let row = Array(z[(r * 10)..<(r * 10 + 10)])
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let s = e.reduce(0, +)
            loss += log(s) - (row[labels[r]] - m)
            for c in 0..<10 { dz[r * 10 + c] = e[c] / s - (c == labels[r] ? 1 : 0) }
        }
        return (loss, dz)
    }

    /// Whole network: loss sum and gradient in the parameter layout, with given dropout masks
    /// (dense NHWC order per sample, values 0 or 1.25) or none.
    static func network(params w: [Double], x: [Double], n: Int, labels: [Int],
                        mask1: [Double]?, mask2: [Double]?) -> (loss: Double, grad: [Double], logits: [Double]) {
        let L = ParameterLayout.seedCNN
        func p(_ name: String) -> [Double] { Array(w[L[name].range]) }
        let a1 = conv(x, n: n, s: 28, cin: 1, cout: 32, k: p("conv2D_1/kernel"), b: p("conv2D_1/bias"))
        let a2 = conv(a1, n: n, s: 28, cin: 32, cout: 32, k: p("conv2D_2/kernel"), b: p("conv2D_2/bias"))
        let r2 = relu(a2)
        let (m1, arg1) = maxPool(r2, n: n, s: 28, c: 32)
        let d1 = mask1.map { zip(m1, $0).map(*) } ?? m1
        let a3 = conv(d1, n: n, s: 14, cin: 32, cout: 32, k: p("conv2D_3/kernel"), b: p("conv2D_3/bias"))
        let a4 = conv(a3, n: n, s: 14, cin: 32, cout: 32, k: p("conv2D_4/kernel"), b: p("conv2D_4/bias"))
        let r4 = relu(a4)
        let (m2, arg2) = maxPool(r4, n: n, s: 14, c: 32)
        let d2 = mask2.map { zip(m2, $0).map(*) } ?? m2
        let h = dense(d2, rows: n, inW: 1568, outW: 512, k: p("hidden/kernel"), b: p("hidden/bias"))
        let hr = relu(h)
        let z = dense(hr, rows: n, inW: 512, outW: 10, k: p("end/kernel"), b: p("end/bias"))
        let (loss, dz) = softmaxCE(z, rows: n, labels: labels)

        var grad = [Double](repeating: 0, count: w.count)
        func put(_ name: String, _ g: [Double]) { grad.replaceSubrange(L[name].range, with: g) }
        let e = denseBackward(hr, dy: dz, rows: n, inW: 512, outW: 10, k: p("end/kernel"))
        put("end/kernel", e.dk); put("end/bias", e.db)
        let hb = denseBackward(d2, dy: reluBackward(h, dy: e.dx), rows: n, inW: 1568, outW: 512, k: p("hidden/kernel"))
        put("hidden/kernel", hb.dk); put("hidden/bias", hb.db)
        let dd2 = mask2.map { zip(hb.dx, $0).map(*) } ?? hb.dx
        let dr4 = reluBackward(a4, dy: maxPoolBackward(dy: dd2, arg: arg2, inputCount: r4.count))
        let c4 = convBackward(a3, dy: dr4, n: n, s: 14, cin: 32, cout: 32, k: p("conv2D_4/kernel"))
        put("conv2D_4/kernel", c4.dk); put("conv2D_4/bias", c4.db)
        let c3 = convBackward(d1, dy: c4.dx, n: n, s: 14, cin: 32, cout: 32, k: p("conv2D_3/kernel"))
        put("conv2D_3/kernel", c3.dk); put("conv2D_3/bias", c3.db)
        let dd1 = mask1.map { zip(c3.dx, $0).map(*) } ?? c3.dx
        let dr2 = reluBackward(a2, dy: maxPoolBackward(dy: dd1, arg: arg1, inputCount: r2.count))
        let c2 = convBackward(a1, dy: dr2, n: n, s: 28, cin: 32, cout: 32, k: p("conv2D_2/kernel"))
        put("conv2D_2/kernel", c2.dk); put("conv2D_2/bias", c2.db)
        let c1 = convBackward(x, dy: c2.dx, n: n, s: 28, cin: 1, cout: 32, k: p("conv2D_1/kernel"))
        put("conv2D_1/kernel", c1.dk); put("conv2D_1/bias", c1.db)
        return (loss, grad, z)
    }
}

#if canImport(Glibc)
import Glibc
#endif
