"""What FDD's discriminators can see: fresh heads trained offline on fixed samples under several
views (feature taps, re-noising, pairing), each measured on held-out pairs as it trains.

For every view, fresh D_e / D_v heads train for --steps updates (batches of d_batch pairs, the
optimizer of `reference.train_fdd`) on the teacher bank's training items against one student's
samples of them, and every --every updates they are measured (`fdd.measure`: paired AUC, hinge
margin, sigmoid(D) on each side) on the bank's probe items, never trained on, against the same
student's samples of those, and on as many training items (what they memorised). The student's
samples are made once (`fdd.student_samples`) and cached beside the bank. A view is FDDSettings
overrides; taps are written with '+' (a ',' separates overrides):

    python -m reference.studies.disc_study --weights reference/weights/synth --student no_disc \\
        --view old:disc_taps=down0_ds+down1_ds+down2+mid,disc_t_max=750,disc_shared_noise=false \\
        --view new:disc_taps=conv_in+down0,disc_t_max=100 --steps 300 --out docs/fdd_disc_study

Writes <out>.md (a table per view and checkpoint) and <out>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from reference import fdd
from reference.discriminators import Discriminators, UNetEncoderFeatures


def parse_view(spec: str) -> tuple[str, dict]:
    """"name:key=value,key=value" -> (name, FDDSettings overrides), typed by the fields' defaults."""
    name, _, body = spec.partition(":")
    types = {f.name: type(f.default) for f in dataclasses.fields(fdd.FDDSettings)}
    out = {}
    for part in filter(None, body.split(",")):
        key, _, value = part.partition("=")
        if key not in types:
            raise SystemExit(f"--view {spec!r}: unknown setting {key!r}")
        kind = types[key]
        if kind is bool:
            out[key] = value.lower() in ("1", "true", "yes", "on")
        elif kind in (int, float):
            out[key] = kind(value)
        else:
            out[key] = value.replace("+", ",")
    return name, out


def cached_samples(path: Path, make) -> torch.Tensor:
    from safetensors.torch import load_file, save_file

    if path.is_file():
        return load_file(str(path))["x0"]
    x0 = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"x0": x0.contiguous()}, str(path))
    return x0


def train_view(model, settings: fdd.FDDSettings, train_items, train_fakes, probe_items, probe_fakes, steps: int,
               every: int, lr: float, seed: int, shares=None) -> list[dict]:
    """Fresh heads trained on (train_items, train_fakes) under `settings`' view; their measures
    every `every` updates (step 0: untrained), and at the end `shares(features, disc)` if given."""
    bb = model.backbone
    features = UNetEncoderFeatures(bb.unet, bb.scheduler, settings.disc_taps)
    torch.manual_seed(seed)
    disc = Discriminators(features.channels(), bb.text_encoder.config.hidden_size, max(32, model.config.num_frames))
    opt = torch.optim.AdamW(disc.parameters(), lr=lr, betas=(0.0, 0.999))
    gen = torch.Generator().manual_seed(seed)
    seen = train_items[: len(probe_items)], train_fakes[: len(probe_items)]
    rows = []
    for step in range(steps + 1):
        if step % every == 0:
            held = fdd.measure(model, features, disc, probe_items, probe_fakes, settings, seed)
            fit = fdd.measure(model, features, disc, *seen, settings, seed)
            rows.append({"step": step, **{f"probe_{k}": v for k, v in held.items()},
                         **{f"train_{k}": fit[k] for k in ("auc_e", "auc_v")}})
        if step == steps:
            break
        idx = torch.randperm(len(train_items), generator=gen)[: settings.d_batch].tolist()
        pairs = fdd.pairs_from_items(model, [train_items[i] for i in idx], train_fakes[idx])
        d = fdd.discriminator_losses(features, disc, pairs, settings, gen)
        loss = settings.alpha * d["d_e"] + settings.beta * d["d_v"]
        if settings.r1_weight > 0:
            loss = loss + settings.r1_weight * (settings.alpha * d["r1_e"] + settings.beta * d["r1_v"])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if shares is not None:
        rows[-1].update(shares(features, disc))
    return rows


def gradient_shares(model, student, features, disc, items: list[dict], settings: fdd.FDDSettings, guidance,
                    seed: int) -> dict[str, float]:
    """The student's gradient from each loss term at λ = 1 against these heads, on `items` one at a
    time: mean norms of α·SDS-e + β·SDS-v and of α·G-e + β·G-v on the LoRA, and their ratio, the
    adversarial share of SDS at λ = 1 (at λ the share is this / λ)."""
    params = [p for n, p in student.video_unet.named_parameters() if ".align." in n]
    for p in params:
        p.requires_grad_(True)
    disc.requires_grad_(False)
    norms = {"sds": [], "adv": []}
    for i, item in enumerate(items):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + i)
        batch = fdd.prepare_batch(model, fdd.stack_items([item]), settings, guidance, gen)
        x0, _ = fdd.rollout(model, student, batch, settings, guidance, gen)
        (sds_e, _), (sds_v, _) = fdd.sds_losses(model, batch, x0, settings, guidance, gen)
        g_e, g_v = fdd.adversarial_generator_losses(features, disc, batch, x0, settings, gen)
        terms = {"sds": settings.alpha * sds_e + settings.beta * sds_v, "adv": settings.alpha * g_e + settings.beta * g_v}
        for name, grads in fdd.backward_by_term(terms, params).items():
            norms[name].append(fdd.grad_norm(grads))
        for p in params:
            p.grad = None
    for p in params:
        p.requires_grad_(False)
    disc.requires_grad_(True)
    sds, adv = (sum(v) / len(v) for v in (norms["sds"], norms["adv"]))
    return {"gnorm_sds_lambda1": sds, "gnorm_adv": adv, "adv_share_lambda1": adv / sds}


def report(results: dict, views: dict, header: str) -> str:
    lines = [header, "", "| view | settings | updates | D_e AUC held-out | D_e AUC train | D_e margin | "
             "D_v AUC held-out | D_v AUC train | D_v margin |", "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in results.items():
        settings = ", ".join(f"{k}={v}" for k, v in views[name].items()) or "defaults"
        for r in rows:
            lines.append(f"| {name} | {settings} | {r['step']} | {r['probe_auc_e']:.3f} | {r['train_auc_e']:.3f} | "
                         f"{r['probe_margin_e']:.3f} | {r['probe_auc_v']:.3f} | {r['train_auc_v']:.3f} | "
                         f"{r['probe_margin_v']:.3f} |")
    shares = [(name, rows[-1]) for name, rows in results.items() if "adv_share_lambda1" in rows[-1]]
    if shares:
        lines += ["", "Each term's gradient on the student's LoRA against the trained heads (mean over the "
                  "measured items, λ = 1; at λ the adversarial share is the last column / λ):", "",
                  "| view | SDS gradient | adversarial gradient | adversarial / SDS |", "|---|---|---|---|"]
        lines += [f"| {name} | {r['gnorm_sds_lambda1']:.4f} | {r['gnorm_adv']:.4f} | {r['adv_share_lambda1']:.3f} |"
                  for name, r in shares]
    return "\n".join(lines) + "\n"


def main() -> None:
    from reference.checkpoint import EVEModel
    from reference.student import Student, load_student, student_folder
    from reference.teacher_bank import TeacherBank, synth_sources

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="reference/weights/synth")
    p.add_argument("--student", default="no_disc", help="the student variant whose samples are the fakes")
    p.add_argument("--bank-root", default="runs/fdd/bank")
    p.add_argument("--train-items", type=int, default=128)
    p.add_argument("--probe-items", type=int, default=48)
    p.add_argument("--teacher-sample-steps", type=int, default=10)
    p.add_argument("--first-frame-steps", type=int, default=10)
    p.add_argument("--view", action="append", required=True, help="NAME:setting=value,... (taps joined by '+')")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grad-items", type=int, default=8,
                   help="training items on which each term's gradient on the student is measured at the end (0: not)")
    p.add_argument("--out", required=True, help="output path without extension (.md and .json are written)")
    args = p.parse_args()

    views = dict(parse_view(v) for v in args.view)
    base = fdd.FDDSettings(teacher_sample_steps=args.teacher_sample_steps, first_frame_steps=args.first_frame_steps)
    model = EVEModel.from_pretrained(args.weights, require=("edit_adapter", "video_adapter"))
    guidance = fdd.resolve_guidance(base, model.config.sampling)
    bank = TeacherBank(args.bank_root, args.weights, model, base, guidance, synth_sources(model))
    train_items = [bank.get("train", i).as_dict() for i in range(args.train_items)]
    probe_items = [bank.get("probe", i).as_dict() for i in range(args.probe_items)]
    aligned = load_student(EVEModel.from_pretrained(args.weights), Path(args.weights) / student_folder(args.student))
    student = Student(aligned.video_unet, aligned.edit_adapter)
    cache = bank.dir / "study" / args.student
    fakes = {}
    for split, items in (("train", train_items), ("probe", probe_items)):
        fakes[split] = cached_samples(cache / f"{split}_{len(items)}_seed{args.seed}.safetensors",
                                      lambda items=items: fdd.student_samples(aligned, student, items, base, guidance,
                                                                              args.seed))
    results, t0 = {}, time.time()
    for name, overrides in views.items():
        settings = dataclasses.replace(base, **overrides)
        shares = None
        if args.grad_items:
            shares = lambda features, disc, settings=settings: gradient_shares(  # noqa: E731
                aligned, student, features, disc, train_items[: args.grad_items], settings, guidance, args.seed)
        results[name] = train_view(model, settings, train_items, fakes["train"], probe_items, fakes["probe"],
                                   args.steps, args.every, args.lr, args.seed, shares)
        print(json.dumps({"view": name, **results[name][-1]}), flush=True)
    header = (f"# What the discriminators see: {args.student} against the teachers\n\n"
              f"`python -m reference.studies.disc_study {' '.join(a for a in __import__('sys').argv[1:])}`\n\n"
              f"Bank {bank.key} ({args.train_items} training items, {args.probe_items} held-out probe items); "
              f"d_batch {base.d_batch}, lr {args.lr}, seed {args.seed}; {time.time() - t0:.0f} s.")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(report(results, views, header))
    out.with_suffix(".json").write_text(json.dumps({"views": views, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
