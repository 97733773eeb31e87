"""The classic PyTorch MNIST CNN, trained with the loop a PyTorch user writes by hand:
forward, loss, backward, optimizer step, batch after batch.

    python examples/pytorch_cnn.py --backend numba
"""
import numpy as np

from fastconv import demo, losses, models, optim, training


def main(argv=None) -> float:
    args = demo.parser("The PyTorch MNIST CNN on the embedded digits").parse_args(argv)
    model = models.pytorch_cnn(seed=args.seed).to(args.backend)
    model.summary()
    digits = demo.digits(model, limit=args.limit, seed=args.seed)
    criterion = losses.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for index in training.batches(len(digits.x), args.batch_size, rng.permutation(len(digits.x))):
            loss = criterion(model(digits.x[index]), digits.y[index])
            model.backward(criterion.backward(), input_grad=False)
            optimizer.step()
            total += loss * len(index)
        print(f"epoch {epoch}: mean training loss {total / len(digits.x):.4f}")
    return demo.report(model, digits)


if __name__ == "__main__":
    main()
