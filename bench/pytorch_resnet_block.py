#!/usr/bin/python3
"""PyTorch on the ResNet basic block of bench/models/resnet_basic_block64.mlir
(64 channels, 56x56), 2 threads: inference batch 1 and 8, and a training
step (MSE + Adam) at batch 32. Prints (median ms, min ms).

    /usr/bin/python3 bench/pytorch_resnet_block.py
"""
import time, statistics, torch, torch.nn as nn
torch.set_num_threads(2)
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1=nn.Conv2d(64,64,3,padding=1,bias=False); s.b1=nn.BatchNorm2d(64)
        s.c2=nn.Conv2d(64,64,3,padding=1,bias=False); s.b2=nn.BatchNorm2d(64)
    def forward(s,x):
        return torch.relu(s.b2(s.c2(torch.relu(s.b1(s.c1(x)))))+x)
m=Block()
def med(fn,runs):
    for _ in range(3): fn()
    t=[]
    for _ in range(runs):
        a=time.perf_counter(); fn(); t.append((time.perf_counter()-a)*1e3)
    return statistics.median(t), min(t)
m.eval()
for b in (1,8):
    x=torch.randn(b,64,56,56)
    with torch.no_grad(): print("inference", b, med(lambda: m(x), 40))
m.train()
opt=torch.optim.Adam(m.parameters(),1e-3)
x=torch.randn(32,64,56,56); y=torch.randn(32,64,56,56)
def step():
    opt.zero_grad(); l=((m(x)-y)**2).mean(); l.backward(); opt.step()
print("train 32", med(step,8))
