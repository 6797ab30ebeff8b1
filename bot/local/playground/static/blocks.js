// Block Kit -> DOM, for messages and modals. Only what Slack would draw; unknown parts say so.

import { escapeHtml, mrkdwn, plainText } from "./mrkdwn.js";

/** Build an element: h("div", {class: "x", onclick: fn}, child, "text", ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "html") el.innerHTML = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A text object ({type: mrkdwn|plain_text, text}) as HTML. */
export function textHtml(obj, ctx) {
  if (!obj) return "";
  if (typeof obj === "string") return mrkdwn(obj, ctx);
  return obj.type === "plain_text" ? plainText(obj.text, obj.emoji !== false) : mrkdwn(obj.text, ctx);
}

function textEl(tag, obj, ctx, cls) {
  return h(tag, { class: cls, html: textHtml(obj, ctx) });
}

/** Where an image block's picture is: a public URL, or a file uploaded to (the local) Slack. */
function imageSource(block) {
  const id = block.slack_file?.id;
  return id ? `/playground/api/files/${encodeURIComponent(id)}` : block.image_url ?? block.slack_file?.url;
}

function image(url, alt, cls) {
  const img = h("img", { class: cls, src: url, alt: alt || "", loading: "lazy" });
  img.addEventListener("error", () => img.replaceWith(h("span", { class: `${cls} img-missing`, title: url }, alt || "image")));
  return img;
}

function button(el, blockId, ctx) {
  const cls = ["bk-button"];
  if (el.style === "primary") cls.push("bk-button--primary");
  if (el.style === "danger") cls.push("bk-button--danger");
  const b = h("button", {
    type: "button",
    class: cls.join(" "),
    dataset: { actionId: el.action_id ?? "", blockId },
    html: plainText(el.text?.text ?? "", el.text?.emoji !== false),
  });
  b.addEventListener("click", async () => {
    if (el.confirm && !window.confirm(stripTags(textHtml(el.confirm.text, ctx)))) return;
    if (el.url) window.open(el.url, "_blank", "noopener");
    await ctx.onAction?.({ action_id: el.action_id, block_id: blockId, type: "button", value: el.value ?? null }, b);
  });
  return b;
}

function select(el, blockId, ctx) {
  const s = h("select", { class: "bk-select", dataset: { actionId: el.action_id ?? "", blockId } });
  s.append(h("option", { value: "" }, el.placeholder?.text ?? "Select an item"));
  for (const option of flatOptions(el)) {
    s.append(h("option", { value: option.value, selected: el.initial_option?.value === option.value }, option.text?.text ?? option.value));
  }
  s.addEventListener("change", () =>
    ctx.onAction?.({ action_id: el.action_id, block_id: blockId, type: el.type, value: s.value || null }, s),
  );
  return s;
}

function overflow(el, blockId, ctx) {
  const s = h("select", { class: "bk-select bk-overflow", title: "More actions", dataset: { actionId: el.action_id ?? "", blockId } });
  s.append(h("option", { value: "" }, "⋯"));
  for (const option of el.options ?? []) s.append(h("option", { value: option.value }, option.text?.text ?? option.value));
  s.addEventListener("change", () => {
    if (!s.value) return;
    ctx.onAction?.({ action_id: el.action_id, block_id: blockId, type: "overflow", value: s.value }, s);
    s.value = "";
  });
  return s;
}

export function flatOptions(el) {
  if (el.option_groups) return el.option_groups.flatMap((g) => g.options ?? []);
  return el.options ?? [];
}

/** An interactive element inside a message (actions block or section accessory). */
function element(el, blockId, ctx) {
  switch (el.type) {
    case "button":
      return button(el, blockId, ctx);
    case "static_select":
      return select(el, blockId, ctx);
    case "overflow":
      return overflow(el, blockId, ctx);
    case "image":
      return image(el.image_url, el.alt_text, "bk-accessory-image");
    default:
      return h("span", { class: "bk-unsupported" }, `[${el.type}]`);
  }
}

function stripTags(html) {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div.textContent ?? "";
}

function richText(block) {
  // Enough of rich_text to read it: the text of every element, sections as paragraphs.
  const walk = (node) => {
    if (!node) return "";
    if (node.type === "text") return node.text ?? "";
    if (node.type === "emoji") return `:${node.name}:`;
    if (node.type === "link") return node.text ?? node.url ?? "";
    if (node.type === "user") return `<@${node.user_id}>`;
    return (node.elements ?? []).map(walk).join(node.type === "rich_text_list" ? "\n• " : "");
  };
  return (block.elements ?? []).map(walk).join("\n");
}

/** One block of a message or a modal (input blocks are the modal's business: see modal.js). */
export function renderBlock(block, index, ctx) {
  const blockId = block.block_id ?? `b${index}`;
  switch (block.type) {
    case "section": {
      const el = h("div", { class: "bk-section", dataset: { blockId } });
      const main = h("div", { class: "bk-section-main" });
      if (block.text) main.append(textEl("div", block.text, ctx, "bk-text"));
      if (block.fields?.length) {
        main.append(h("div", { class: "bk-fields" }, block.fields.map((f) => textEl("div", f, ctx, "bk-field"))));
      }
      el.append(main);
      if (block.accessory) el.append(h("div", { class: "bk-accessory" }, element(block.accessory, blockId, ctx)));
      return el;
    }
    case "context":
      return h(
        "div",
        { class: "bk-context", dataset: { blockId } },
        (block.elements ?? []).map((e) =>
          e.type === "image" ? image(e.image_url, e.alt_text, "bk-context-image") : textEl("span", e, ctx, "bk-context-text"),
        ),
      );
    case "divider":
      return h("hr", { class: "bk-divider" });
    case "header":
      return textEl("div", block.text, ctx, "bk-header");
    case "image":
      return h(
        "figure",
        { class: "bk-image", dataset: { blockId } },
        block.title ? textEl("figcaption", block.title, ctx, "bk-image-title") : null,
        image(imageSource(block), block.alt_text, "bk-image-img"),
      );
    case "actions":
      return h("div", { class: "bk-actions", dataset: { blockId } }, (block.elements ?? []).map((e) => element(e, blockId, ctx)));
    case "rich_text":
      return h("div", { class: "bk-text", html: mrkdwn(richText(block), ctx) });
    default:
      return h("div", { class: "bk-unsupported" }, `Unsupported block: ${escapeHtml(block.type)}`);
  }
}

/** A message body: its blocks, or its text when it has none. */
export function renderMessageBody(message, ctx) {
  const blocks = message.blocks ?? [];
  if (!blocks.length) return h("div", { class: "bk-text", html: mrkdwn(message.text, ctx) });
  return h("div", { class: "bk-blocks" }, blocks.map((b, i) => renderBlock(b, i, ctx)));
}
